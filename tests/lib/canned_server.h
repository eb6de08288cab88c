/* An agent that answers exactly what a test tells it to: HTTP/1.1 with keep-alive on a Unix
 * socket inside the test process, one thread per connection, answering "POST <path>" with the
 * body set for that path (or the catch-all body), 404 otherwise. It stands in for replies
 * dstack-sim never sends (old agents, hostile or malformed answers); it is the agent's side
 * of the wire, not a mock of libdstack or OpenSSL. One server per test process. */
#ifndef DSTACK_TEST_CANNED_SERVER_H
#define DSTACK_TEST_CANNED_SERVER_H

/* Starts listening on /tmp/dstack-<tag>-<pid>.sock; 0 on success. */
int canned_server_start(const char *tag);
const char *canned_server_path(void);

/* Body for requests to `path` (e.g. "/GetKey", "/prpc/Tappd.DeriveKey"); NULL path = every
 * path without a body of its own. The body is copied; NULL removes the entry. */
void canned_server_set(const char *path, const char *body);

/* Stops listening, removes the socket and forgets every body. */
void canned_server_stop(void);

#endif
