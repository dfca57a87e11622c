# Seed, "사용자 정의 층" (In [9]): a layer without weights.
exp_layer = keras.layers.Lambda(lambda x: tf.exp(x))
