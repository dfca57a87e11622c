# Seed, "사용자 정의 손실 함수" (In [3]): the Huber loss from TensorFlow ops.
import tensorflow as tf

def huber(y_true, y_pred):
  error = y_true - y_pred
  se = tf.abs(error) < 1
  sq_loss = tf.square(error) / 2
  linear_loss = tf.abs(error) - 0.5
  return tf.where(se,sq_loss,linear_loss)

#model.compile(loss=huber, optimizer="nadam")
#model.fit(...)
