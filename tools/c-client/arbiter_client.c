#include "arbiter_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAME (64u * 1024u * 1024u)

struct arbiter_client {
  int fd;
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

arbiter_client *arbiter_connect(const char *host, int port, char *err, size_t err_len) {
  char service[16];
  struct addrinfo hints = {0}, *res = NULL;
  snprintf(service, sizeof service, "%d", port);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = getaddrinfo(host, service, &hints, &res);
  if (rc != 0) {
    if (err) snprintf(err, err_len, "cannot resolve %s: %s", host, gai_strerror(rc));
    return NULL;
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
    return NULL;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (write(fd, "ARB1", 4) != 4) {
    if (err) snprintf(err, err_len, "cannot send the preamble: %s", strerror(errno));
    close(fd);
    return NULL;
  }
  arbiter_client *client = calloc(1, sizeof *client);
  client->fd = fd;
  client->next_stream = 1;
  return client;
}

void arbiter_close(arbiter_client *client) {
  if (!client) return;
  if (client->fd >= 0) close(client->fd);
  free(client->buf);
  free(client);
}

static int write_all(int fd, const uint8_t *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
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
    int wait = -1;
    if (deadline >= 0) {
      int64_t left = deadline - now_ms();
      if (left <= 0) return 0;
      wait = (int)left;
    }
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    int r = poll(&p, 1, wait);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) return 0;
    if (c->cap - c->len < 65536) {
      c->cap = c->cap ? c->cap * 2 : 131072;
      c->buf = realloc(c->buf, c->cap);
    }
    ssize_t got = read(c->fd, c->buf + c->len, c->cap - c->len);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return -1;
    c->len += (size_t)got;
  }
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
  int written = write_all(c->fd, frame, frame_len);
  free(frame);
  if (written != 0) {
    set_message(message, message_len, "connection lost while sending");
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
      set_message(message, message_len, "connection closed by the server");
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
  int written = write_all(c->fd, frame, 12 + n);
  free(frame);
  if (written != 0) {
    set_message(message, message_len, "connection lost while sending the hello");
    return ARBITER_UNAVAILABLE;
  }
  int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : -1;
  for (;;) {
    int r = read_frame(c, deadline);
    if (r <= 0) {
      set_message(message, message_len, r == 0 ? "deadline exceeded waiting for the hello's answer"
                                                : "connection closed by the server");
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
