class A(Module):
  __parameters__ = ["w"]
