/* A small C client for Arbiter's lean protocol (docs/lean-protocol.md), on libprotobuf-c.
 *
 * One connection, calls made one at a time with a deadline each. Status codes are gRPC's:
 * 0 OK, 3 INVALID_ARGUMENT, 4 DEADLINE_EXCEEDED, 5 NOT_FOUND, 7 PERMISSION_DENIED, 12 UNIMPLEMENTED,
 * 14 UNAVAILABLE (connection lost or refused), 16 UNAUTHENTICATED. The application should ignore
 * SIGPIPE (as arbiter-c does): a write to a connection the server closed then fails with 14. */
#ifndef ARBITER_CLIENT_H
#define ARBITER_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "arbiter/v1/decision.pb-c.h"

#define ARBITER_OK 0
#define ARBITER_DEADLINE_EXCEEDED 4
#define ARBITER_UNAVAILABLE 14
#define ARBITER_UNAUTHENTICATED 16

/* The file the server writes its admin token to on first start (docs/security.md). */
#define ARBITER_DEFAULT_TOKEN_FILE "arbiter-data/admin-token"

typedef struct arbiter_client arbiter_client;

/* Connects and sends the preamble; NULL on failure with the reason in err. */
arbiter_client *arbiter_connect(const char *host, int port, char *err, size_t err_len);

/* TLS for a connection (OpenSSL): the server's certificate is checked against ca_file (NULL: the
 * system's roots) and the host connected to (a name, or an IP address in its subjectAltName); with
 * cert_file (and key_file, or the key in cert_file) the client presents its certificate (mTLS). */
typedef struct {
  const char *ca_file;
  const char *cert_file;
  const char *key_file;
} arbiter_tls;

/* As arbiter_connect, over TLS when tls is not NULL (the preamble and every frame inside it). */
arbiter_client *arbiter_connect_tls(const char *host, int port, const arbiter_tls *tls, char *err, size_t err_len);
void arbiter_close(arbiter_client *client);

/* Sends the connection's hello frame with credential (an API key or a signed token) and waits at
 * most timeout_ms (0: no limit) for its answer: 0 when accepted, 16 UNAUTHENTICATED with the reason
 * in message, 14 when the connection is lost. */
int arbiter_hello(arbiter_client *client, const char *credential, int timeout_ms, char *message, size_t message_len);

/* The credential to present when none is given on the command line: $ARBITER_TOKEN, else the first
 * line of $ARBITER_TOKEN_FILE or of ARBITER_DEFAULT_TOKEN_FILE. Returns 1 and fills out (NUL-ended)
 * when one is found, 0 when there is none, -1 when a named file cannot be read (reason in out). */
int arbiter_find_credential(char *out, size_t out_len);

/* One call: packs req, sends it on a new stream with timeout_ms (0: none) as the server-side
 * deadline, and waits at most timeout_ms for the answer. On status 0 *resp is the unpacked
 * response (free it with protobuf_c_message_free_unpacked); otherwise message holds the status
 * message. A response arriving after its deadline is discarded. */
int arbiter_call(arbiter_client *client, const char *method, const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *resp_descriptor, ProtobufCMessage **resp,
                 int timeout_ms, const char *request_id, char *message, size_t message_len);

int arbiter_decide(arbiter_client *client, const Arbiter__V1__DecideRequest *req,
                   Arbiter__V1__DecideResponse **resp, int timeout_ms, char *message, size_t message_len);

int arbiter_record_outcomes(arbiter_client *client, const Arbiter__V1__RecordOutcomesRequest *req,
                            Arbiter__V1__RecordOutcomesResponse **resp, int timeout_ms, char *message,
                            size_t message_len);

#endif
