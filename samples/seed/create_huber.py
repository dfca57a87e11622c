# Seed, "사용자 정의 요소 모델 저장 & 로드" (In [1]): a loss with a parameter
# that is not saved; the load gives it again through custom_objects.
def create_huber(threshold=1.0):
  def huber(y_true, y_pred):
    error = y_true - y_pred
    se = tf.abs(error) < threshold
    sq_loss = tf.square(error) / 2
    linear_loss = threshold * tf.abs(error) - threshold**2 / 2
    return tf.where(se,sq_loss,linear_loss)
  return huber
#model.compile(loss=create_huber(2.0), optimizer="nadam")

#model = keras.models.load_model("models.h5",
#       custom_objects={"huber": create_huber(2.0)})
