/* The compiled-in backends, most preferred first: BACKEND(name) per line.
 * Adding a backend means one file and one line here. No include guard: it
 * is expanded more than once. */
#if defined(ASYNC_HAVE_IOCP)
BACKEND(iocp)
#endif
#if defined(ASYNC_HAVE_EPOLL)
BACKEND(epoll)
#endif
#if defined(ASYNC_HAVE_KQUEUE)
BACKEND(kqueue) /* the default where it is the system's; after epoll over libkqueue */
#endif
#if defined(ASYNC_HAVE_POLL)
BACKEND(poll)
#endif
#if defined(ASYNC_HAVE_SELECT)
BACKEND(select)
#endif
