# Seed (In [16], [18], [20], [21], [23]): gradient tapes: variables, a
# persistent tape asked twice, constants (not watched, then watched), and
# stop_gradient.
w1, w2 = tf.Variable(5.), tf.Variable(3.)
with tf.GradientTape() as tape:
  z = f(w1 , w2)

gradients = tape.gradient(z, [w1 , w2])
gradients

with tf.GradientTape(persistent=True) as tape:
  z = f(w1 , w2)

gt1 = tape.gradient(z, w1)
print(gt1)
gt2 = tape.gradient(z, w2)
print(gt2)
del tape

w1, w2 = tf.constant(5.), tf.constant(3.)
with tf.GradientTape() as tape:
  z = f(w1 , w2)

gradients = tape.gradient(z, [w1 , w2])
gradients

with tf.GradientTape() as tape:
  tape.watch(w1)
  tape.watch(w2)
  z = f(w1 , w2)

gradients = tape.gradient(z, [w1 , w2])
gradients

w1, w2 = tf.Variable(5.), tf.Variable(3.)
def f(w1, w2):
  return 3 * w1 ** 2 + tf.stop_gradient(2 * w1 *w2)

with tf.GradientTape() as tape:
  z = f(w1 , w2)

gradients = tape.gradient(z, [w1 , w2])
gradients
