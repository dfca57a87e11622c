# Seed, "사용자 정의 커스터마이징" (In [6]): custom activation, initializer,
# regularizer and constraint on a Dense layer. The Dense line is commented
# out in the seed; it is counted here because the C sample makes it.
def my_softplus(z):
  return tf.math.log(tf.exp(z) + 1.0)

def my_glorot_initial(shape, dtype=tf.float32):
  stddev = tf.sqrt(2. / (shape[0] + shape[1]))
  return tf.random.normal(shape, stddev=stddev, dtype=dtype)

def my_l1_regular(weights):
  return tf.reduce_sum(tf.abs(0.01 * weights))

def my_positive_weights(weights):
  return tf.where(weights < 0. , tf.zeros_like(weights), weights)

layer = keras.layers.Dense(30, activation=my_softplus,
           kernel_initializer = my_glorot_initial,
           kernel_regularizer = my_l1_regular,
           kernel_constraint = my_positive_weights )
