# Seed, "자동 미분으로 경사 계산하기" (In [13]): gradients by finite differences.
w1 , w2 =  5 , 3
eps = 1e-6

def f(w1, w2):
  return 3 * w1 ** 2 + 2 * w1 *w2

print("w1에 대한 경사 값")
print((f(w1+eps,w2) - f(w1,w2)) / eps)
print("w2에 대한 경사 값")
print((f(w1, w2+eps) - f(w1,w2)) / eps)
