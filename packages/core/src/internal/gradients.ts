import * as tf from '@tensorflow/tfjs';

/*
 * Why this file exists: tfjs saves a kernel's *output* for its backward pass by cloning it
 * after the forward node is recorded, so the clone sits on the tape before the node that
 * produced it. In a nested `tf.grad` the gradient flowing into the saved output is then
 * never propagated back through the producing kernel: the second derivative silently
 * loses that term (measured: Σ log1p(exp x) HVP off by 220%). Every gradient below
 * recomputes what it needs from the kernel's *inputs* instead, with differentiable ops, so
 * derivatives of any order are right. Max/Min/MaxPool also read their output, but only
 * through an equality mask whose derivative is zero, so they are correct as they are.
 */

type GradFunc = (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: any) => Record<string, () => tf.Tensor>;

function reRegister(kernelName: string, inputsToSave: string[], gradFunc: GradFunc): void {
  tf.registerGradient({ kernelName, inputsToSave, gradFunc: gradFunc as any });
}

let registered = false;

/** Re-registers second-order-safe gradients for every kernel whose tfjs gradient reads its saved output. */
export function registerSecondOrderGradients(): void {
  if (registered) return;
  registered = true;
  // Overriding logs a warning per kernel in tfjs; silence it once, here, on purpose.
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('Overriding the gradient for')) return;
    warn(...args);
  };
  try {
    reRegister('Exp', ['x'], (dy, [x]) => ({ x: () => tf.mul(dy as tf.Tensor, tf.exp(x)) }));
    reRegister('Tanh', ['x'], (dy, [x]) => ({
      x: () => tf.mul(dy as tf.Tensor, tf.sub(1, tf.square(tf.tanh(x)))),
    }));
    reRegister('Sigmoid', ['x'], (dy, [x]) => ({
      x: () => {
        const s = tf.sigmoid(x);
        return tf.mul(dy as tf.Tensor, tf.mul(s, tf.sub(1, s)));
      },
    }));
    reRegister('Elu', ['x'], (dy, [x]) => ({
      x: () => tf.where(tf.less(x, 0), tf.mul(dy as tf.Tensor, tf.exp(x)), dy as tf.Tensor),
    }));
    reRegister('Softmax', ['logits'], (dy, [logits], attrs) => ({
      logits: () => {
        const dim = attrs.dim as number;
        const y = tf.softmax(logits, dim);
        const dyTimesY = tf.mul(dy as tf.Tensor, y);
        return tf.sub(dyTimesY, tf.mul(tf.sum(dyTimesY, [dim], true), y));
      },
    }));
    reRegister('LogSoftmax', ['logits'], (dy, [logits], attrs) => ({
      logits: () => {
        const axis = attrs.axis as number;
        const softmax = tf.softmax(logits, axis);
        return tf.sub(dy as tf.Tensor, tf.mul(tf.sum(dy as tf.Tensor, axis, true), softmax));
      },
    }));
    reRegister('Pow', ['a', 'b'], (dy, [a, b]) => {
      const outShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);
      const reduceTo = (g: tf.Tensor, shape: number[]) => {
        const axes = tf.broadcast_util.getReductionAxes(shape, outShape);
        const r = axes.length > 0 ? tf.sum(g, axes) : g;
        return tf.reshape(r, shape);
      };
      return {
        a: () => {
          const bf = tf.cast(b, 'float32');
          const g = tf.mul(dy as tf.Tensor, tf.mul(bf, tf.pow(a, tf.sub(bf, 1))));
          return reduceTo(g, a.shape);
        },
        b: () => {
          const y = tf.pow(a, b);
          const logA = tf.where(tf.greater(a, 0), tf.log(tf.maximum(a, 1e-30)), tf.zerosLike(a));
          return reduceTo(tf.mul(dy as tf.Tensor, tf.mul(y, logA)), b.shape);
        },
      };
    });
    // tfjs hands a one-output Unpack's gradient a tensor, not an array, and its registered
    // gradient then fails to stack it (a one-element tf.unstack breaks any nested grad).
    reRegister('Unpack', [], (dy, _saved, attrs) => ({
      value: () => tf.stack(Array.isArray(dy) ? dy : [dy], attrs.axis as number),
    }));
    // Comparisons feed tf.where masks; their derivative is zero. tfjs registers no gradient
    // for them, which breaks nested differentiation of any where() built from a comparison.
    for (const kernelName of ['Greater', 'GreaterEqual', 'Less', 'LessEqual', 'Equal', 'NotEqual',
      'LogicalAnd', 'LogicalOr', 'LogicalNot', 'IsFinite', 'IsNan', 'IsInf']) {
      if (tf.getGradient(kernelName) != null) continue;
      const names = kernelName === 'LogicalNot' || kernelName.startsWith('Is') ? ['x'] : ['a', 'b'];
      reRegister(kernelName, names, (_dy, saved) => {
        const out: Record<string, () => tf.Tensor> = {};
        names.forEach((n, i) => (out[n] = () => tf.zerosLike(saved[i])));
        return out;
      });
    }
  } finally {
    console.warn = warn;
  }
}
