#!/usr/bin/env python3
"""pvm_diff.py - run the same pickles through CPython's C unpickler and
through the pickle VM (build/pvm_repr), and compare.

Usage: python3 tests/diff/pvm_diff.py [build/pvm_repr] [COUNT] [SEED]

Pickles are made here: a fixed list of edge cases, then COUNT random small
pickles from a grammar of opcodes (mostly well-formed, some mutated).  Both
sides print a canonical form of the result (see pvm_repr.c); globals other
than the few the VM interprets resolve to inert stand-ins in a fake module
"mod", so CPython runs no code of the pickle's choosing.

Outcomes per pickle:
  same        both accept with the same canonical form, or both refuse
  opaque      the VM left a call it only interprets for some arguments
              (set(list), not set(str)) as an opaque call
  lenient     the VM accepts what CPython refuses (allowed: the VM never
              resolves globals or hashes keys, and is told what to ignore)
  STRICTER    the VM refuses what CPython accepts      -> failure
  DIFFERENT   both accept, different values           -> failure
Exit status 1 when any pickle is STRICTER or DIFFERENT.
"""
import collections
import io
import pickle
import random
import resource
import struct
import subprocess
import sys
import types
import _codecs


class Obj:
    """What calling an inert global (or another Obj) gives."""

    def __init__(self, fn, args, kwargs=None):
        self.fn, self.args = fn, tuple(args)
        self.items = None
        self.pairs = None

    def __call__(self, *args, **kwargs):
        return Obj(self, args, kwargs)

    def __setstate__(self, state):
        self.state = state

    def _items(self):
        if self.items is None:
            self.items = []
        return self.items

    def extend(self, items):
        self._items().extend(items)

    def append(self, x):
        self._items().append(x)

    def add(self, x):
        self._items().append(x)

    def __setitem__(self, k, v):
        if self.pairs is None:
            self.pairs = []
        for i, (k2, _) in enumerate(self.pairs):
            if scalar(k) and scalar(k2) and k == k2 and (type(k) in (int, bool)) == (type(k2) in (int, bool)):
                self.pairs[i] = (k2, v)
                return
        self.pairs.append((k, v))


def scalar(k):
    return type(k) in (str, bytes, int, bool, type(None))


class PersId:
    def __init__(self, pid):
        self.pid = pid

    def __setstate__(self, state):
        pass

    def extend(self, items):
        pass

    def append(self, x):
        pass

    def add(self, x):
        pass

    def __setitem__(self, k, v):
        pass


def inert_global(module, name):
    def __new__(cls, *args, **kwargs):
        return Obj(cls, args, kwargs)
    cls = type(name, (), {'__new__': __new__, 'g': (module, name)})
    cls.extend = cls.append = cls.add = lambda *a: None
    cls.__setitem__ = lambda *a: None
    return cls


_globals = {}


def fake_module_getattr(name):
    if name.startswith('__'):
        raise AttributeError(name)
    key = ('mod', name)
    if key not in _globals:
        _globals[key] = inert_global('mod', name)
    return _globals[key]


fake = types.ModuleType('mod')
fake.__getattr__ = fake_module_getattr
sys.modules['mod'] = fake

REAL = {set: ('builtins', 'set'), frozenset: ('builtins', 'frozenset'),
        bytes: ('builtins', 'bytes'), collections.OrderedDict: ('collections', 'OrderedDict'),
        _codecs.encode: ('_codecs', 'encode')}


class Unpickler(pickle.Unpickler):
    def persistent_load(self, pid):
        return PersId(pid)

    def find_class(self, module, name):
        # the default find_class maps Python 2 names; only allow what we model
        obj = super().find_class(module, name)
        if isinstance(obj, type) and hasattr(obj, 'g'):
            return obj
        for real, where in REAL.items():
            if obj is real:
                return obj
        raise pickle.UnpicklingError('global not allowed in the differential: %s.%s' % (module, name))


def twos(n):
    nbytes = (n.bit_length() >> 3) + 1
    b = n.to_bytes(nbytes, 'little', signed=True)
    if n < 0 and nbytes > 1 and b[-1] == 0xff and (b[-2] & 0x80):
        b = b[:-1]
    return b


def R(x, path=()):
    if len(path) > 40:
        return '...'
    if id(x) in path:
        return '@'
    path = path + (id(x),)
    t = type(x)
    if x is None:
        return 'N'
    if x is True:
        return 'T'
    if x is False:
        return 'F'
    if t is int:
        return 'i%d' % x if -2**63 <= x < 2**63 else 'L' + twos(x).hex()
    if t is float:
        return 'f%016x' % struct.unpack('<Q', struct.pack('<d', x))[0]
    if t is str:
        return 's' + x.encode('utf-8', 'surrogatepass').hex()
    if t in (bytes, bytearray):
        return 'b' + bytes(x).hex()
    if t is tuple:
        return '(' + ','.join(R(i, path) for i in x) + ')'
    if t is list:
        return '[' + ','.join(R(i, path) for i in x) + ']'
    if t in (dict, collections.OrderedDict):
        return '{' + ','.join(R(k, path) + ':' + R(v, path) for k, v in x.items()) + '}'
    if t in (set, frozenset):
        return ('S{' if t is set else 'Z{') + ','.join(sorted(set(R(set_item(i), path) for i in x))) + '}'
    if t is Obj:
        s = 'c' + R(x.fn, path) + R(x.args, path)
        if x.items is not None:
            s += R(x.items, path)
        if x.pairs is not None:
            s += '{' + ','.join(R(k, path) + ':' + R(v, path) for k, v in x.pairs) + '}'
        return s
    if t is PersId:
        return 'p' + R(x.pid, path)
    if isinstance(x, type) and hasattr(x, 'g'):
        return 'g%s:%s' % x.g
    if x in REAL:
        return 'g%s:%s' % REAL[x]
    return '?' + t.__name__


def set_item(x):
    """A set keeps one of 1, True and 1.0: both sides print such items as ints."""
    if type(x) is bool or (type(x) is float and x.is_integer() and -2**63 <= x < 2**63):
        return int(x)
    return x


# Calls the VM leaves opaque when their argument has a shape it does not
# interpret (set('abc'), frozenset(b'xy'), ...): not a different reading.
UNINTERPRETED = ('cgbuiltins:set(', 'cgbuiltins:frozenset(', 'cgcollections:OrderedDict(',
                 'cg_codecs:encode(', 'cgbuiltins:bytes(')


def cpython(data):
    try:
        # torch.load passes encoding='utf-8' for Python 2 str
        return 'OK ' + R(Unpickler(io.BytesIO(data), encoding='utf-8').load())
    except RecursionError:
        return 'SKIP'
    except Exception as e:
        return 'ERR %s: %s' % (type(e).__name__, e)


# ---- pickles -----------------------------------------------------------------

def line(op, text):
    return op + text + b'\n'


INT_TEXTS = [b'0', b'1', b'00', b'01', b'010', b'0x10', b'0X1f', b'0o17', b'0b101', b'1_000',
             b'1__0', b'_1', b'0_7', b'0_0', b' 0', b' 1', b'+1', b'-0', b'1 ', b'-1', b'08',
             b'0x', b'0x_1f', b'12\0zz', b'1_0\0zz', b'1\0', b'\0', b'\0\0', b' \0', b'\x0b5',
             b'\t5\t', b'\x0c5\r', b'99999999999999999999', b'0x10000000000000000',
             b'-0x8000000000000000', b'-0x8000000000000001', b'9223372036854775807',
             b'9223372036854775808', b'-9223372036854775808', b'-9223372036854775809',
             b'0777777777777777777777777', b'0777', b'-010', b'+-1', b'- 1', b'0b', b'', b'1L',
             b'L', b'0o', b'00000', b'0_', b'1e3', b'\xa05', b'\x1c5', b'5\x1c', b'0L', b'0xffL',
             b'1LL', b'0\0', b'00\0', b'0x7fffffffffffffff', b'0xffffffffffffffff', b'-0b1_0',
             b'0B_1', b'0O_7', b'0x__1', b'1' * 30, b'-' + b'9' * 40, b'0x' + b'f' * 40,
             b'1' * 4300, b'1' * 4301, b'0' * 5000, b'1_' * 50 + b'1', b'+0x0', b'-0b0',
             b'0 x1', b'0x 1', b'1\r', b'\r1', b'00\r', b'0\r']
FLOAT_TEXTS = [b'1.5', b' 1.5', b'1.5 ', b'1e999', b'-1e999', b'1e-999', b'inf', b'-Infinity',
               b'nan', b'-nan', b'+nan', b'infinit', b'0x10', b'1_0.5', b'1.', b'.5', b'.',
               b'1e', b'1e+', b'1.5\0zz', b'1e5000000000', b'1e-5000000000', b'00001.5',
               b'1.7976931348623158e308', b'1.7976931348623159e308', b'nan(1)', b'INF',
               b'iNfInItY', b'+.5e-3', b'\t1', b'1\r', b'', b'\0', b'-', b'+', b'e5', b'-.e5',
               b'4.9406564584124654e-324', b'2.4703282292062327e-324',
               b'2.4703282292062328e-324', b'0.1', b'123456789012345678901234567890e-10',
               b'1e22', b'1e23', b'9007199254740993', b'-0', b'-0.0', b'1E5', b'1e+05',
               b'infx', b'nanx', b'1.5e', b'1..5', b'3.14159265358979323846264338327950288']


def edge_cases():
    out = []
    for t in INT_TEXTS:
        out.append(line(b'I', t) + b'.')
        out.append(line(b'L', t) + b'.')
        out.append(line(b'L', t + b'L') + b'.')
    for t in FLOAT_TEXTS:
        out.append(line(b'F', t) + b'.')
    for t in [b'0', b'1', b' 1 ', b'1_0', b'+1', b'-0', b'-1', b'0x1', b'01', b'',
              b'9223372036854775807', b'9223372036854775808', b'1\0x']:
        out.append(b'N' + line(b'p', t) + b'0' + line(b'g', t) + b'.')
        out.append(b'N' + line(b'p', b'5') + b'0' + line(b'g', t) + b'.')
    for s in [b'\xed\xa0\x80', b'\xed\xa0\xbd\xed\xb8\x80', b'\xc0\x80', b'\xf4\x90\x80\x80',
              b'\xed\xa0', b'\xed\xbf\xbf', b'\xee\x80\x80', b'a\xed\xb0\x80b', b'\xf0\x9f\x98\x80']:
        out.append(b'X' + struct.pack('<I', len(s)) + s + b'.')
        out.append(b'\x8c' + bytes([len(s)]) + s + b'.')
        out.append(b'\x8d' + struct.pack('<Q', len(s)) + s + b'.')
        out.append(b'\x8c\x03mod\x8c' + bytes([len(s)]) + s + b'\x93.')
        out.append(b'}\x8c' + bytes([len(s)]) + s + b'K\x01s.')
    for s in [b'\\ud800', b'\\ud83d\\ude00', b'\\udfff', b'\\U0010ffff', b'\\U00110000',
              b'\\u12', b'\\\\u0041', b'\\\\\\u0041', b'\\x41', b'ab\\', b'ab\\u', b'\xed\xa0\x80',
              b'\\U0000d800', b'\\u00e9\xe9']:
        out.append(line(b'V', s) + b'.')
    targets = [b']', b'}', b')', b'K\x01', b'N', b'\x8f', b'(\x91', b'C\x01a',
               b'\x96\x01\x00\x00\x00\x00\x00\x00\x00a', b'cmod\nC\n)R', b'cmod\nC\n',
               b'N\x8c\x01x\x86Q', b'cbuiltins\nset\n)R', b'cbuiltins\nset\n)\x81',
               b'cbuiltins\nset\n(]t\x81', b'cbuiltins\nset\n(K\x01t\x81',
               b'ccollections\nOrderedDict\n)R', b'ccollections\nOrderedDict\n(]t\x81',
               b'cbuiltins\nfrozenset\n)R', b'K\x01K\x02\x86', b'G?\xf0\x00\x00\x00\x00\x00\x00',
               b'\x88', b'X\x01\x00\x00\x00a', b']K\x01aK\x02a']
    states = [b'N', b'}', b'N}\x86', b'N}\x8c\x01aK\x01s\x86', b'}}\x86', b'NK\x01\x86',
              b'K\x01', b'}\x8c\x01aK\x01s', b'NN\x86', b']', b'N}K\x01K\x02s\x86']
    for t in targets:
        for s in states:
            out.append(t + s + b'b.')
        for fill in [b'K\x05a', b'(K\x05K\x06e', b'(e', b'K\x00K\x05s', b'K\x01K\x05s',
                     b'J\xff\xff\xff\xffK\x05s', b'J\xfe\xff\xff\xffK\x05s', b'\x88K\x05s',
                     b'\x89K\x05s', b'NK\x05s', b'(K\x00K\x05u', b'(u', b'(K\x05\x90', b'(\x90',
                     b'(K\x01K\x02\x90', b'\x8c\x01aK\x05s', b'K\x01\x85K\x05s',
                     b'\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01K\x05s', b'K\x00K\xffs',
                     b'K\x00M\x00\x01s', b'(K\x01K\xfee', b'(K\x01M\x00\x01e', b'(\x88e',
                     b'K\x00\x88s']:
            out.append(t + fill + b'.')
    for p in [b'\x80\x00', b'\x80\x02', b'\x80\x03', b'\x80\x04', b'\x80\x05', b'\x80\x06',
              b'\x80\xff', b'']:
        for g in [b'c__builtin__\nset\n', b'c__builtin__\nunicode\n', b'cexceptions\nValueError\n',
                  b'\x8c\x0b__builtin__\x8c\x03set\x93', b'cmod\nx\n', b'\x8c\x03mod\x8c\x01x\x93']:
            out.append(p + g + b'.')
            out.append(g + p + b'.')
    for f in [b'\x95\x00\x00\x00\x00\x00\x00\x00\x00N.', b'\x95\x01\x00\x00\x00\x00\x00\x00\x00N.',
              b'\x95\x05\x00\x00\x00\x00\x00\x00\x00N.', b'N\x95\x01\x00\x00\x00\x00\x00\x00\x00.',
              b'\x95\x01\x00\x00\x00\x00\x00\x00\x80N.', b'N.garbage', b'N.\xff', b'Nq\x01q\x01h\x01.',
              b'Nr\xff\xff\xff\xff0j\xff\xff\xff\xff.', b'N\x94\x94h\x00.', b'(N.', b'(0N.',
              b'N(0.', b'N(2.', b'N(a.', b'](a.', b'](e.', b'}(u.', b'(\x94.', b'N(\x94.',
              b'N(q\x00.', b'N(h\x00.', b'K\x01K\x02(\x87.', b'(K\x01\x85.', b'(\x8f.',
              b'\x8c\x01a\x8c\x01b(\x93.', b'(cmod\nC\no.', b'(cmod\nC\nK\x01o.', b'(imod\nC\n.',
              b'(K\x01imod\nC\n.', b'(K\x01i\xc3\xa9\nC\n.', b'c\xc3\xa9\nC\n.', b'cmod\nC\nN\x81.',
              b'cmod\nC\n)N\x92.', b'cmod\nC\n)}\x92.', b'cmod\nC\n)\x81.', b'cmod\nC\nNR.',
              b'N)R.', b'K\x01)R.', b'cmod\nC\n)RK\x01\x85R.', b'\x8c\x01x\x8c\x01y\x93.',
              b'cmod\nC\n(}t\x81.', b'cmod\nC\nK\x01\x85}\x92.', b'P1\n.', b'P\xc3\xa9\n.',
              b'P\n.', b'NQ.', b'Q.', b'\x82\x01.', b'\x97.', b'C\x01a\x98.', b'N\x98.',
              b'S\'a\'\n.', b'S"a"\n.', b"S'\\xe9'\n.", b"S'\\x4'\n.", b"S'ab\n.", b"S'a\\'\n.",
              b'T\x02\x00\x00\x00\xc3\xa9.', b'U\x02\xe9\xff.', b'U\x03\xed\xa0\x80.',
              b'}K\x01K\x02s}K\x01K\x03s\x86.', b'}K\x01K\x02\x88K\x03s.',
              b'cbuiltins\nset\n]K\x01aK\x02a\x85R.', b'cbuiltins\nfrozenset\n]K\x01a\x85\x81.',
              b'c_codecs\nencode\nX\x02\x00\x00\x00\xc3\xa9X\x06\x00\x00\x00latin1\x86R.',
              b'c_codecs\nencode\nX\x03\x00\x00\x00\xed\xa0\x80X\x06\x00\x00\x00latin1\x86R.',
              b'cbuiltins\nbytes\n)R.', b'ccollections\nOrderedDict\n]]K\x01K\x02\x86a\x85R.',
              b'(K\x01K\x02d.', b'(K\x01d.', b'(l.', b'(K\x01l.', b'(t.', b'(d.', b'(\x91.']:
        out.append(f)
    return out


class Gen:
    """Random small pickles: values pushed, then containers and calls."""

    def __init__(self, rnd):
        self.r = rnd

    def scalar(self):
        r = self.r
        k = r.randrange(14)
        if k == 0:
            return b'K' + bytes([r.randrange(256)])
        if k == 1:
            return b'J' + struct.pack('<i', r.randrange(-2**31, 2**31))
        if k == 2:
            return line(b'I', r.choice(INT_TEXTS[:60]))
        if k == 3:
            return line(b'L', r.choice(INT_TEXTS[:60]) + r.choice([b'', b'L']))
        if k == 4:
            n = r.choice([0, 1, 2, 7, 8, 9, 16])
            return b'\x8a' + bytes([n]) + bytes(r.randrange(256) for _ in range(n))
        if k == 5:
            x = r.choice([0.0, -0.0, 1.5, 1e300, float('inf'), 5e-324, r.random() * 10 ** r.randrange(-30, 30)])
            return b'G' + struct.pack('>d', x)
        if k == 6:
            if r.random() < 0.5:
                return line(b'F', r.choice(FLOAT_TEXTS))
            x = r.random() * 10 ** r.randrange(-320, 309)
            return line(b'F', repr(x).encode() if r.random() < 0.5 else ('%.25g' % x).encode())
        if k == 7:
            s = r.choice([b'a', b'key', b'', b'\xc3\xa9', b'\xed\xa0\x80', b'\xed\xb0\x80'])
            return b'\x8c' + bytes([len(s)]) + s
        if k == 8:
            s = r.choice([b'a', b'\\u00e9', b'\\ud800', b'x\\\\uy'])
            return line(b'V', s)
        if k == 9:
            s = bytes(r.randrange(256) for _ in range(r.randrange(4)))
            return b'C' + bytes([len(s)]) + s
        if k == 10:
            return r.choice([b'N', b'\x88', b'\x89'])
        if k == 11:
            return r.choice([b'cmod\nA\n', b'cmod\nB\n', b'\x8c\x03mod\x8c\x01C\x93', b'c__builtin__\nset\n'])
        if k == 12:
            return r.choice([b')', b']', b'}', b'\x8f'])
        return b'X\x01\x00\x00\x00' + bytes([r.randrange(0x20, 0x7f)])

    def value(self, depth=0):
        r = self.r
        if depth > 3 or r.random() < 0.45:
            return self.scalar()
        k = r.randrange(12)
        items = [self.value(depth + 1) for _ in range(r.randrange(4))]
        body = b''.join(items)
        n = len(items)
        if k == 0:
            return b'(' + body + b't'
        if k == 1:
            return b'(' + body + b'l'
        if k == 2:
            return b']' + (b'(' + body + b'e' if r.random() < 0.7 else body + b'a' * n)
        if k == 3:
            pairs = b''.join(self.scalar() + self.value(depth + 1) for _ in range(r.randrange(3)))
            return b'}(' + pairs + b'u'
        if k == 4:
            return b'\x8f(' + body + b'\x90'
        if k == 5:
            return b'(' + body + b'\x91'
        if k == 6:
            return r.choice([b'cmod\nF\n', b'cbuiltins\nset\n', b'cbuiltins\nfrozenset\n']) + b'(' + body + b't' + r.choice([b'R', b'\x81'])
        if k == 7:
            return b'cmod\nF\n)R' + r.choice([b'N', b'}', b'N}\x86', body[:0] + b'K\x01']) + b'b'
        if k == 8:
            return b'cmod\nF\n)R(' + body + r.choice([b'e', b'\x90'])
        if k == 9:
            t = self.value(depth + 1)
            return t + r.choice([b'q\x07', b'\x94', b'p3\n']) + b'0' + r.choice([b'h\x07', b'g3\n', b'h\x00'])
        if k == 10:
            return self.value(depth + 1) + r.choice([b'N', b'N}\x86', b'}']) + b'b'
        if n >= 1:
            return body + b'\x85\x86\x87'[min(n, 3) - 1:min(n, 3)] if n <= 3 else b'(' + body + b't'
        return b')'

    def pickle(self):
        r = self.r
        data = r.choice([b'', b'\x80\x02', b'\x80\x04', b'\x80\x05']) + self.value() + b'.'
        if r.random() < 0.3:  # stack, memo and framing opcodes anywhere
            i = r.randrange(len(data))
            data = data[:i] + r.choice([b'(1', b'20', b'(0', b'\x80\x02', b'\x80\x04', b'\x94',
                                        b'0', b'2', b'(', b'1', b'\x95\x00\x00\x00\x00\x00\x00\x00\x00',
                                        b'N\x98', b'Q', b'P1\n', b'h\x00', b'g0\n']) + data[i:]
        if r.random() < 0.15:  # mutate one byte
            i = r.randrange(len(data))
            data = data[:i] + bytes([r.randrange(256)]) + data[i + 1:]
        return data


def main():
    probe = sys.argv[1] if len(sys.argv) > 1 else 'build/pvm_repr'
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    gen = Gen(random.Random(seed))
    cases = edge_cases() + [gen.pickle() for _ in range(count)]
    out = subprocess.run([probe], input=''.join(c.hex() + '\n' for c in cases).encode(),
                         capture_output=True, check=True).stdout.decode('utf-8', 'surrogateescape').split('\n')[:-1]
    assert len(out) == len(cases), (len(out), len(cases))
    # CPython's memo is an array: LONG_BINPUT 100000000 makes it allocate
    # and clear 1.6 GB.  Cap this process so that is a MemoryError.
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    tally = collections.Counter()
    bad = 0
    for data, ours in zip(cases, out):
        theirs = cpython(data)
        if theirs == 'SKIP':
            continue
        ok_ours, ok_theirs = ours.startswith('OK '), theirs.startswith('OK ')
        if ok_ours and ok_theirs:
            kind = 'same' if ours == theirs else \
                'opaque' if any(u in ours for u in UNINTERPRETED) else 'DIFFERENT'
        elif not ok_ours and not ok_theirs:
            kind = 'same'
        elif ok_ours:
            kind = 'lenient'
        else:
            kind = 'STRICTER'
        tally[kind] += 1
        if kind in ('DIFFERENT', 'STRICTER') or (kind == 'lenient' and '-v' in sys.argv):
            bad += kind != 'lenient'
            print('%s %r\n  cpython: %s\n  pvm:     %s' % (kind, data, theirs[:300], ours[:300]))
    print(dict(tally))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
