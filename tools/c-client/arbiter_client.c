#include "arbiter_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define MAX_FRAME (64u * 1024u * 1024u)

struct arbiter_client {
  int fd;
  SSL_CTX *ctx; /* with TLS: the context and the connection; NULL otherwise */
  SSL *ssl;
  char tls_failure[160]; /* why TLS ended the connection (e.g. the server refused our certificate), if it said */
  uint32_t next_stream;
  uint8_t *buf; /* received bytes not yet consumed */
  size_t len, cap;
};

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = (v >> 16) & 0xff; p[2] = (v >> 8) & 0xff; p[3] = v & 0xff; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_message(char *message, size_t len, const char *text) {
  if (message && len) snprintf(message, len, "%s", text);
}

static int connect_socket(const char *host, int port, char *err, size_t err_len) {
  char service[16];
  struct addrinfo hints = {0}, *res = NULL;
  snprintf(service, sizeof service, "%d", port);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = getaddrinfo(host, service, &hints, &res);
  if (rc != 0) {
    if (err) snprintf(err, err_len, "cannot resolve %s: %s", host, gai_strerror(rc));
    return -1;
  }
  int fd = -1;
  for (struct addrinfo *a = res; a; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    if (err) snprintf(err, err_len, "cannot connect to %s:%d: %s", host, port, strerror(errno));
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

/* OpenSSL's queued errors as one line (the newest last), or `fallback`. */
static void tls_error(char *err, size_t err_len, const char *what) {
  unsigned long code = ERR_get_error(), last = code;
  while (code) {
    last = code;
    code = ERR_get_error();
  }
  char reason[256] = "no detail";
  if (last) ERR_error_string_n(last, reason, sizeof reason);
  if (err) snprintf(err, err_len, "%s: %s", what, reason);
}

/* The TLS handshake on fd: the server's certificate checked against tls->ca_file (or the
 * system's roots) and `host` (a name or an IP address); the client's certificate sent when given. */
static int start_tls(arbiter_client *c, const char *host, const arbiter_tls *tls, char *err, size_t err_len) {
  c->ctx = SSL_CTX_new(TLS_client_method());
  if (!c->ctx) {
    tls_error(err, err_len, "cannot make a TLS context");
    return -1;
  }
  SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
  if (tls->ca_file ? SSL_CTX_load_verify_locations(c->ctx, tls->ca_file, NULL) != 1
                   : SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
    tls_error(err, err_len, tls->ca_file ? "cannot read the CA certificates" : "cannot load the system's CA certificates");
    return -1;
  }
  if (tls->cert_file && (SSL_CTX_use_certificate_chain_file(c->ctx, tls->cert_file) != 1 ||
                         SSL_CTX_use_PrivateKey_file(c->ctx, tls->key_file ? tls->key_file : tls->cert_file,
                                                     SSL_FILETYPE_PEM) != 1)) {
    tls_error(err, err_len, "cannot read the client certificate or its key");
    return -1;
  }
  c->ssl = SSL_new(c->ctx);
  SSL_set_fd(c->ssl, c->fd);
  unsigned char address[16];
  X509_VERIFY_PARAM *param = SSL_get0_param(c->ssl);
  if (inet_pton(AF_INET, host, address) == 1 || inet_pton(AF_INET6, host, address) == 1) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host);
  } else {
    SSL_set_tlsext_host_name(c->ssl, host);
    SSL_set1_host(c->ssl, host);
  }
  if (SSL_connect(c->ssl) != 1) {
    long verify = SSL_get_verify_result(c->ssl);
    if (verify != X509_V_OK) {
      if (err) snprintf(err, err_len, "TLS handshake with %s failed: %s", host, X509_verify_cert_error_string(verify));
    } else {
      tls_error(err, err_len, "TLS handshake failed");
    }
    return -1;
  }
  return 0;
}

static int write_all(arbiter_client *c, const uint8_t *p, size_t n);

arbiter_client *arbiter_connect_tls(const char *host, int port, const arbiter_tls *tls, char *err, size_t err_len) {
  int fd = connect_socket(host, port, err, err_len);
  if (fd < 0) return NULL;
  arbiter_client *client = calloc(1, sizeof *client);
  client->fd = fd;
  client->next_stream = 1;
  if (tls && start_tls(client, host, tls, err, err_len) != 0) {
    arbiter_close(client);
    return NULL;
  }
  if (write_all(client, (const uint8_t *)"ARB1", 4) != 0) {
    if (err) snprintf(err, err_len, "cannot send the preamble: %s", strerror(errno));
    arbiter_close(client);
    return NULL;
  }
  return client;
}

arbiter_client *arbiter_connect(const char *host, int port, char *err, size_t err_len) {
  return arbiter_connect_tls(host, port, NULL, err, err_len);
}

void arbiter_close(arbiter_client *client) {
  if (!client) return;
  if (client->ssl) SSL_free(client->ssl);
  if (client->ctx) SSL_CTX_free(client->ctx);
  if (client->fd >= 0) close(client->fd);
  free(client->buf);
  free(client);
}

/* After a failed write over TLS: the server's alert (why it closed), if one is waiting, read
 * within 200 ms into tls_failure. */
static void capture_tls_failure(arbiter_client *c) {
  if (!c->ssl || c->tls_failure[0]) return;
  ERR_clear_error();
  struct pollfd p = {.fd = c->fd, .events = POLLIN};
  uint8_t byte;
  if (poll(&p, 1, 200) == 1 && SSL_read(c->ssl, &byte, 1) <= 0) {
    unsigned long code = ERR_peek_last_error();
    if (code) ERR_error_string_n(code, c->tls_failure, sizeof c->tls_failure);
  }
  ERR_clear_error();
}

static int write_all(arbiter_client *c, const uint8_t *p, size_t n) {
  while (n) {
    ssize_t w = c->ssl ? SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n) : write(c->fd, p, n);
    if (w < 0 && errno == EINTR && !c->ssl) continue;
    if (w <= 0) {
      capture_tls_failure(c);
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads until a whole frame is buffered or the deadline passes: 1 frame ready, 0 timeout, -1 closed. */
static int read_frame(arbiter_client *c, int64_t deadline) {
  for (;;) {
    if (c->len >= 4) {
      uint32_t length = get32(c->buf);
      if (length < 8 || length > MAX_FRAME) return -1;
      if (c->len >= 4 + (size_t)length) return 1;
    }
    /* Bytes TLS has already decrypted are read without waiting for the socket. */
    bool ready = c->ssl && SSL_pending(c->ssl) > 0;
    int wait = -1;
    if (!ready && deadline >= 0) {
      int64_t left = deadline - now_ms();
      if (left <= 0) return 0;
      wait = (int)left;
    }
    if (!ready) {
      struct pollfd p = {.fd = c->fd, .events = POLLIN};
      int r = poll(&p, 1, wait);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return -1;
      if (r == 0) return 0;
    }
    if (c->cap - c->len < 65536) {
      c->cap = c->cap ? c->cap * 2 : 131072;
      c->buf = realloc(c->buf, c->cap);
    }
    size_t room = c->cap - c->len;
    ssize_t got = c->ssl ? SSL_read(c->ssl, c->buf + c->len, room > INT32_MAX ? INT32_MAX : (int)room)
                         : read(c->fd, c->buf + c->len, room);
    if (c->ssl && got <= 0) {
      int why = SSL_get_error(c->ssl, (int)got);
      if (why == SSL_ERROR_WANT_READ || why == SSL_ERROR_WANT_WRITE) continue; /* a record not yet whole */
      unsigned long code = ERR_peek_last_error();
      if (code) ERR_error_string_n(code, c->tls_failure, sizeof c->tls_failure);
      ERR_clear_error();
      return -1;
    }
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return -1;
    c->len += (size_t)got;
  }
}

/* `what`, with TLS's reason when it gave one. */
static void lost_message(const arbiter_client *c, const char *what, char *message, size_t len) {
  if (!message || !len) return;
  if (c->tls_failure[0]) snprintf(message, len, "%s (TLS: %s)", what, c->tls_failure);
  else snprintf(message, len, "%s", what);
}

static void closed_message(const arbiter_client *c, char *message, size_t len) {
  lost_message(c, "connection closed by the server", message, len);
}

static void consume(arbiter_client *c, size_t n) {
  memmove(c->buf, c->buf + n, c->len - n);
  c->len -= n;
}

int arbiter_call(arbiter_client *c, const char *method, const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *resp_descriptor, ProtobufCMessage **resp,
                 int timeout_ms, const char *request_id, char *message, size_t message_len) {
  if (resp) *resp = NULL;
  if (!c || c->fd < 0) {
    set_message(message, message_len, "not connected");
    return ARBITER_UNAVAILABLE;
  }
  size_t method_len = strlen(method), id_len = request_id ? strlen(request_id) : 0;
  if (method_len > 65535 || id_len > 255) {
    set_message(message, message_len, "method or request id too long");
    return 3;
  }
  size_t body_len = protobuf_c_message_get_packed_size(req);
  size_t payload_len = 2 + method_len + 4 + 1 + id_len + body_len;
  size_t frame_len = 12 + payload_len;
  uint8_t *frame = malloc(frame_len);
  uint32_t stream = c->next_stream++;
  if (c->next_stream == 0) c->next_stream = 1;
  put32(frame, (uint32_t)(8 + payload_len));
  frame[4] = 1; /* request */
  frame[5] = 0;
  put16(frame + 6, 0);
  put32(frame + 8, stream);
  uint8_t *p = frame + 12;
  put16(p, (uint16_t)method_len);
  memcpy(p + 2, method, method_len);
  p += 2 + method_len;
  put32(p, timeout_ms > 0 ? (uint32_t)timeout_ms * 1000u : 0u);
  p[4] = (uint8_t)id_len;
  if (id_len) memcpy(p + 5, request_id, id_len);
  p += 5 + id_len;
  protobuf_c_message_pack(req, p);
  int written = write_all(c, frame, frame_len);
  free(frame);
  if (written != 0) {
    lost_message(c, "connection lost while sending", message, message_len);
    return ARBITER_UNAVAILABLE;
  }
  int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : -1;
  for (;;) {
    int r = read_frame(c, deadline);
    if (r == 0) {
      set_message(message, message_len, "deadline exceeded waiting for the server");
      return ARBITER_DEADLINE_EXCEEDED;
    }
    if (r < 0) {
      closed_message(c, message, message_len);
      close(c->fd);
      c->fd = -1;
      return ARBITER_UNAVAILABLE;
    }
    uint32_t length = get32(c->buf);
    uint8_t type = c->buf[4];
    uint32_t got_stream = get32(c->buf + 8);
    const uint8_t *q = c->buf + 12, *end = c->buf + 4 + length;
    if (end - q < 5) return ARBITER_UNAVAILABLE;
    int status = get16(q);
    size_t msg_len = get16(q + 2);
    if ((size_t)(end - q) < 5 + msg_len) return ARBITER_UNAVAILABLE;
    char text[512];
    size_t copy = msg_len < sizeof text - 1 ? msg_len : sizeof text - 1;
    memcpy(text, q + 4, copy);
    text[copy] = 0;
    size_t rid_len = q[4 + msg_len];
    const uint8_t *body = q + 5 + msg_len + rid_len;
    if (type == 4) { /* connection-level error: the server closes */
      set_message(message, message_len, text);
      consume(c, 4 + length);
      close(c->fd);
      c->fd = -1;
      return status ? status : ARBITER_UNAVAILABLE;
    }
    if (type != 2 || got_stream != stream) { /* a late answer to an abandoned call */
      consume(c, 4 + length);
      continue;
    }
    int result = status;
    if (status == 0) {
      ProtobufCMessage *m = protobuf_c_message_unpack(resp_descriptor, NULL, (size_t)(end - body), body);
      if (!m) {
        set_message(message, message_len, "malformed response message");
        result = 13;
      } else if (resp) {
        *resp = m;
      } else {
        protobuf_c_message_free_unpacked(m, NULL);
      }
      if (m) set_message(message, message_len, "");
    } else {
      set_message(message, message_len, text);
    }
    consume(c, 4 + length);
    return result;
  }
}

int arbiter_hello(arbiter_client *c, const char *credential, int timeout_ms, char *message, size_t message_len) {
  if (!c || c->fd < 0) {
    set_message(message, message_len, "not connected");
    return ARBITER_UNAVAILABLE;
  }
  size_t n = strlen(credential);
  if (n > MAX_FRAME - 8) {
    set_message(message, message_len, "credential too long");
    return 3;
  }
  uint8_t *frame = malloc(12 + n);
  put32(frame, (uint32_t)(8 + n));
  frame[4] = 3; /* hello */
  frame[5] = 0;
  put16(frame + 6, 0);
  put32(frame + 8, 0);
  memcpy(frame + 12, credential, n);
  int written = write_all(c, frame, 12 + n);
  free(frame);
  if (written != 0) {
    lost_message(c, "connection lost while sending the hello", message, message_len);
    return ARBITER_UNAVAILABLE;
  }
  int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : -1;
  for (;;) {
    int r = read_frame(c, deadline);
    if (r <= 0) {
      if (r == 0) set_message(message, message_len, "deadline exceeded waiting for the hello's answer");
      else closed_message(c, message, message_len);
      if (r < 0) {
        close(c->fd);
        c->fd = -1;
      }
      return r == 0 ? ARBITER_DEADLINE_EXCEEDED : ARBITER_UNAVAILABLE;
    }
    uint32_t length = get32(c->buf);
    uint8_t type = c->buf[4];
    uint32_t stream = get32(c->buf + 8);
    const uint8_t *q = c->buf + 12, *end = c->buf + 4 + length;
    if ((type != 2 && type != 4) || stream != 0 || end - q < 5) { /* not the hello's answer */
      consume(c, 4 + length);
      continue;
    }
    int status = get16(q);
    size_t msg_len = get16(q + 2);
    if ((size_t)(end - q) < 4 + msg_len) msg_len = (size_t)(end - q) - 4;
    char text[512];
    size_t copy = msg_len < sizeof text - 1 ? msg_len : sizeof text - 1;
    memcpy(text, q + 4, copy);
    text[copy] = 0;
    set_message(message, message_len, text);
    consume(c, 4 + length);
    if (type == 4) {
      close(c->fd);
      c->fd = -1;
    }
    return status;
  }
}

static int first_line(const char *path, char *out, size_t out_len) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  if (!fgets(out, (int)out_len, f)) out[0] = 0;
  fclose(f);
  out[strcspn(out, "\r\n")] = 0;
  return 0;
}

int arbiter_find_credential(char *out, size_t out_len) {
  const char *token = getenv("ARBITER_TOKEN");
  if (token && *token) {
    snprintf(out, out_len, "%s", token);
    return 1;
  }
  const char *named = getenv("ARBITER_TOKEN_FILE");
  if (named && *named) {
    if (first_line(named, out, out_len) != 0) {
      char reason[256];
      snprintf(reason, sizeof reason, "cannot read ARBITER_TOKEN_FILE %s: %s", named, strerror(errno));
      snprintf(out, out_len, "%s", reason);
      return -1;
    }
    return out[0] ? 1 : 0;
  }
  if (first_line(ARBITER_DEFAULT_TOKEN_FILE, out, out_len) != 0) return 0;
  return out[0] ? 1 : 0;
}

int arbiter_decide(arbiter_client *c, const Arbiter__V1__DecideRequest *req, Arbiter__V1__DecideResponse **resp,
                   int timeout_ms, char *message, size_t message_len) {
  return arbiter_call(c, "/arbiter.v1.DecisionService/Decide", &req->base, &arbiter__v1__decide_response__descriptor,
                      (ProtobufCMessage **)resp, timeout_ms, req->request_id, message, message_len);
}

int arbiter_record_outcomes(arbiter_client *c, const Arbiter__V1__RecordOutcomesRequest *req,
                            Arbiter__V1__RecordOutcomesResponse **resp, int timeout_ms, char *message, size_t message_len) {
  return arbiter_call(c, "/arbiter.v1.DecisionService/RecordOutcomes", &req->base,
                      &arbiter__v1__record_outcomes_response__descriptor, (ProtobufCMessage **)resp, timeout_ms, "", message,
                      message_len);
}
