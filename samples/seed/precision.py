# Seed, "사용자 정의 지표" (In [8]): a streaming Precision over two batches.
pre = keras.metrics.Precision()
pre([0,1,1,1],[1,1,1,0])
pre([0,0,0],[1,1,1])

pre.result()

pre.variables

pre.reset_states()
