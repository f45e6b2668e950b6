class WithState(Module):
  __parameters__ = ["weight", ]
  __buffers__ = []
  weight : Tensor
  training : bool
  _is_full_backward_hook : Optional[bool]
  def forward(self: __torch__.WithState,
    x: Tensor) -> Tensor:
    weight = self.weight
    return torch.mul(x, weight)
  def __getstate__(self: __torch__.WithState) -> Tuple[Tensor, bool]:
    weight = self.weight
    training = self.training
    return (weight, training)
  def __setstate__(self: __torch__.WithState,
    state: Tuple[Tensor, bool]) -> NoneType:
    self.weight = (state)[0]
    self.training = (state)[1]
    return None
