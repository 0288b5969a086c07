/* Windows: the socket API of the Unix header <sys/socket.h> is in Winsock (already
 * included through async.h); lets portable tests include the Unix name. */
#include <winsock2.h>
#include <ws2tcpip.h>
