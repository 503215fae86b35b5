"""Interrupting ``train`` (Ctrl-C, the kernel's stop button: a real SIGINT) stops it within a batch.

MXNet's engine computes behind Python: Python queues a batch's work in far less time than the
engine takes to compute it. A custom operator in the network below counts, on the engine's side,
every batch whose forward pass MXNet has computed (it runs when the engine reaches it, not when
Python queues it). The reader's interrupt is a real SIGINT, sent when Python has queued the last
batch of the epoch; the count then, and the count once MXNet is idle, say how many batches MXNet
still computed after the interrupt. Counted, not timed: at most one. The version before this check
let Python queue the whole epoch, and MXNet computed the rest of it first (34 of 40 batches on the
machine this was written on): the kernel looked frozen.
"""
import json
import subprocess
import sys

BATCHES = 40

SCRIPT = f'''import json, os, signal
import d2lutils
import mxnet as mx
from mxnet import np, npx
from mxnet.gluon import nn
from d2lutils import training
npx.set_np()
signal.signal(signal.SIGINT, signal.default_int_handler)  # as in IPython: KeyboardInterrupt
computed = []  # one entry per batch whose forward pass MXNet's engine computed
BATCHES = {BATCHES}
class Counted(mx.operator.CustomOp):
    def forward(self, is_train, req, in_data, out_data, aux):
        computed.append(1)
        self.assign(out_data[0], req[0], in_data[0])
    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        self.assign(in_grad[0], req[0], out_grad[0])
@mx.operator.register('counted')
class CountedProp(mx.operator.CustomOpProp):
    def __init__(self):
        super().__init__(need_top_grad=True)
    def list_arguments(self): return ['data']
    def list_outputs(self): return ['output']
    def infer_shape(self, in_shape): return in_shape, [in_shape[0]], []
    def create_operator(self, ctx, shapes, dtypes): return Counted()
class CountedBlock(nn.Block):
    def forward(self, x):
        return mx.nd.Custom(x.as_nd_ndarray(), op_type='counted').as_np_ndarray()
net = nn.Sequential()
net.add(nn.Dense(1024), CountedBlock(), nn.Dense(1024), nn.Dense(10))
X, y = np.ones((256, 1024)), np.arange(256) % 10
at_signal = []
class Batches:
    def __len__(self): return BATCHES
    def __iter__(self):
        for i in range(BATCHES):
            yield X, y
        # Python has queued the whole epoch: the reader presses stop now
        at_signal.append(len(computed))
        os.kill(os.getpid(), signal.SIGINT)
outcome = 'finished'
try:
    training.train(net, Batches(), [(X, y)], 1, 0.01, mx.cpu(), live_plot=False)
except KeyboardInterrupt:
    outcome = 'interrupted'
mx.nd.waitall()
print(json.dumps({{'outcome': outcome, 'at_signal': at_signal, 'computed': len(computed)}}))
'''


def run_training():
    done = subprocess.run([sys.executable, '-c', SCRIPT], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_an_interrupt_stops_training_after_at_most_one_more_batch():
    result = run_training()
    assert result['outcome'] == 'interrupted', result
    assert result['computed'] - result['at_signal'][0] <= 1, result
