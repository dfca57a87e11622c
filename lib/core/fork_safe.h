/* ckeras private: a mutex that fork() never leaves locked in the child.
 *
 * Only the forking thread exists in the child: a lock another thread held
 * at the fork stays held there for good, and the child's first call that
 * takes it waits forever. KC__FORK_SAFE_MUTEX(m) declares the static mutex
 * m and m_take(), which installs (once, on first use) an atfork handler
 * that makes fork wait for the lock and releases it on both sides. */
#ifndef CKERAS_FORK_SAFE_H
#define CKERAS_FORK_SAFE_H

#include <pthread.h>

#define KC__FORK_SAFE_MUTEX(m)                                                                     \
    static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;                                          \
    static pthread_once_t m##_once = PTHREAD_ONCE_INIT;                                            \
    static void m##_before_fork(void) { pthread_mutex_lock(&m); }                                  \
    static void m##_after_fork(void) { pthread_mutex_unlock(&m); }                                 \
    static void m##_install(void)                                                                  \
    {                                                                                              \
        (void)pthread_atfork(m##_before_fork, m##_after_fork, m##_after_fork);                     \
    }                                                                                              \
    static void m##_take(void)                                                                     \
    {                                                                                              \
        pthread_once(&m##_once, m##_install);                                                      \
        pthread_mutex_lock(&m);                                                                    \
    }

#endif /* CKERAS_FORK_SAFE_H */
