// arbiter-load: a load generator for Arbiter's DecisionService/Decide and its no-op baseline
// BenchmarkService/Echo over gRPC (HTTP/2 on nghttp2), the lean protocol
// (docs/lean-protocol.md) or the HTTP/JSON door (docs/http-api.md: HTTP/1.1 with keep-alive,
// POST /v1/decide and /v1/benchmark/echo), light enough that the server, not the generator, is
// what a 2-core machine measures. One thread, non-blocking sockets and epoll; N connections.
//
//   closed loop: `--concurrency N` requests in flight in total, a new one when one completes;
//   open loop:   `--rate R` requests per second on a fixed schedule; each latency is measured
//                from the request's intended send time, so a stalled server is not hidden
//                (no coordinated omission). The generator wakes for the next intended time
//                (nanosecond timeout) and sends every request then due.
//
// HTTP/1.1 is not pipelined here: a connection carries at most one request at a time, so in
// closed loop `--concurrency` must not exceed `--connections` (use e.g. --connections 64
// --concurrency 64). In open loop a request that falls due while every connection is busy waits
// in a queue for the next free connection; its latency still counts from its intended time.
// A connection the server closes is reopened; a request in flight on it counts as an error.
//
// Every request draws its customer uniformly from [first, first + customers) and is encoded
// by hand (customer_id, channel, max_offers; for HTTP the canonical JSON
// {"customerId":"100042","channel":"CHANNEL_WEB","maxOffers":3}). A call succeeds when its
// trailers say grpc-status 0 and a length-prefixed message arrived (gRPC), its response frame
// says status 0 (lean), or its response is status 200 with a body holding "decisionId" (HTTP,
// Content-Length or chunked; the first failed response's status line and body go to stderr).
// A request the server sheds (RESOURCE_EXHAUSTED at its in-flight limit: gRPC or lean status 8,
// HTTP 429) is counted as shed, not as an error, and not in the latencies or req/s.
// Latencies go to a log-linear histogram
// (1 µs to ~70 s, under 0.8% relative error): p50, p90, p99, p99.9, max. With --server-pid the
// server's CPU time over the measured window is read from /proc. The machine's steal time over
// the window (the share of its CPUs' time the hypervisor gave to others while they had work,
// /proc/stat) is reported too: on a shared VM it, not the server, sets much of the tail.
//
// Output: one line, in the form `arbiter-tools bench` prints.
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

// ---------------------------------------------------------------- histogram (log-linear)
// Values below 256 ns are counted exactly; above, each power of two is split into 128 buckets
// (relative error under 0.8%), up to 2^46 ns.
#define SUB 128
#define MAGNITUDES 39
typedef struct {
  uint64_t counts[2 * SUB + MAGNITUDES * SUB];
  uint64_t total, max;
} histogram;

static void hist_record(histogram *h, uint64_t nanos) {
  uint64_t v = nanos;
  size_t index;
  if (v < 2 * SUB) {
    index = (size_t)v;
  } else {
    int m = 63 - __builtin_clzll(v) - 7;  // v >> m is in [128, 256)
    if (m > MAGNITUDES) { m = MAGNITUDES; v = (2ULL * SUB << m) - 1; }
    index = 2 * SUB + (size_t)(m - 1) * SUB + (size_t)((v >> m) - SUB);
  }
  h->counts[index]++;
  h->total++;
  if (nanos > h->max) h->max = nanos;
}

// The value at quantile q: the upper edge of the bucket holding it (at most the maximum seen).
static uint64_t hist_quantile(const histogram *h, double q) {
  if (h->total == 0) return 0;
  uint64_t rank = (uint64_t)ceil(q * (double)h->total);
  if (rank < 1) rank = 1;
  uint64_t seen = 0;
  size_t buckets = sizeof h->counts / sizeof h->counts[0];
  for (size_t i = 0; i < buckets; i++) {
    seen += h->counts[i];
    if (seen < rank) continue;
    uint64_t edge;
    if (i < 2 * SUB) {
      edge = i;
    } else {
      size_t m = (i - 2 * SUB) / SUB + 1, sub = (i - 2 * SUB) % SUB + SUB;
      edge = (((uint64_t)sub + 1) << m) - 1;
    }
    return edge > h->max ? h->max : edge;
  }
  return h->max;
}

// ---------------------------------------------------------------- options and state
enum transport { GRPC, LEAN, HTTP };
static const char *const transport_names[] = {"grpc", "lean", "http"};

typedef struct {
  const char *host, *method;
  enum transport transport;
  int port, connections, concurrency;
  double rate, duration, warmup;
  bool open;
  uint64_t first, customers, channel, offers;
  int server_pid;
  const char *label;
  const char *token;  // sent as `authorization: Bearer <token>` (gRPC, HTTP), in the hello (lean); NULL: none
} options;

typedef struct connection connection;

typedef struct {
  uint64_t intended;  // ns: send time (closed) or scheduled time (open)
  int32_t stream;
  int grpc_status;  // -1 until the trailers say
  bool got_message;
  uint8_t body[32];
  size_t body_len, body_sent;
  connection *conn;
} call;

#define LEAN_STREAMS 65536
struct connection {
  int fd;
  nghttp2_session *session;
  int in_flight;
  bool want_write;
  bool watching_out;  // EPOLLOUT is in the socket's epoll interest (changed only when it must be)
  // Lean protocol: calls by stream id, the next id, and the unsent and unparsed bytes.
  call **streams;
  uint32_t next_stream;
  uint8_t *out, *in;
  size_t out_len, out_cap, in_len, in_cap;
  // HTTP/1.1: the one call in flight and the state of parsing its response (the head, then a
  // Content-Length body, chunks, or a body that ends when the server closes), its decoded body.
  call *current;
  int h_state, h_status;
  bool h_close, h_chunked;
  int64_t h_length;
  uint64_t h_remaining;
  size_t h_scan;
  char h_status_line[256];
  uint8_t *body;
  size_t body_len, body_cap;
};

static options opt;
static histogram hist;
static uint64_t completed, errors, shed, stop_at, measure_from;
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static int total_in_flight;
static int epoll_fd;
static const char *failure;
// HTTP, open loop: free connections in the order they became free, and the intended times of
// due requests waiting for one (both rings).
static connection **idle;
static size_t idle_head, idle_count;
static uint64_t *pending;
static size_t pending_head, pending_count, pending_cap;
static uint64_t reconnects, lost_in_flight;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t next_random(void) {  // splitmix64
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static void die(const char *format, ...) {
  va_list args;
  va_start(args, format);
  fprintf(stderr, "arbiter-load: ");
  vfprintf(stderr, format, args);
  fprintf(stderr, "\n");
  va_end(args);
  exit(1);
}

static size_t put_varint(uint8_t *out, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    out[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  out[n++] = (uint8_t)v;
  return n;
}

// ---------------------------------------------------------------- nghttp2 callbacks
static ssize_t send_callback(nghttp2_session *session, const uint8_t *data, size_t length, int flags, void *user) {
  (void)session, (void)flags;
  connection *c = user;
  ssize_t n = send(c->fd, data, length, MSG_NOSIGNAL);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return NGHTTP2_ERR_WOULDBLOCK;
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  return n;
}

static ssize_t read_body(nghttp2_session *session, int32_t stream, uint8_t *buf, size_t length, uint32_t *flags,
                         nghttp2_data_source *source, void *user) {
  (void)session, (void)stream, (void)user;
  call *k = source->ptr;
  size_t left = k->body_len - k->body_sent;
  size_t n = left < length ? left : length;
  memcpy(buf, k->body + k->body_sent, n);
  k->body_sent += n;
  if (k->body_sent == k->body_len) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user) {
  (void)flags, (void)user;
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  call *k = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
  if (!k) return 0;
  if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
    char text[16] = {0};
    memcpy(text, value, valuelen < 15 ? valuelen : 15);
    k->grpc_status = atoi(text);
  }
  return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream, const uint8_t *data, size_t len, void *user) {
  (void)flags, (void)data, (void)user;
  call *k = nghttp2_session_get_stream_user_data(session, stream);
  if (k && len > 0) k->got_message = true;
  return 0;
}

static void submit_call(connection *c, uint64_t intended);

// How a call ended: answered, shed by the server at its in-flight limit (RESOURCE_EXHAUSTED:
// gRPC status 8, lean status 8, HTTP 429), or failed.
typedef enum { CALL_OK, CALL_SHED, CALL_FAILED } call_outcome;
static void finish_call(connection *c, call *k, call_outcome outcome);

static int on_stream_close(nghttp2_session *session, int32_t stream, uint32_t error_code, void *user) {
  connection *c = user;
  call *k = nghttp2_session_get_stream_user_data(session, stream);
  if (!k) return 0;
  finish_call(c, k,
              error_code == 0 && k->grpc_status == 8 ? CALL_SHED
              : error_code == 0 && k->grpc_status == 0 && k->got_message ? CALL_OK
                                                                          : CALL_FAILED);
  return 0;
}

static void finish_call(connection *c, call *k, call_outcome outcome) {
  uint64_t done = now_ns();
  if (k->intended >= measure_from && k->intended < stop_at) {
    if (outcome == CALL_OK) {
      completed++;
      hist_record(&hist, done - k->intended);
    } else if (outcome == CALL_SHED) {
      shed++;
    } else {
      errors++;
    }
  }
  c->in_flight--;
  total_in_flight--;
  free(k);
  // HTTP, open loop: the connection takes the oldest waiting request, or becomes free.
  if (opt.transport == HTTP && opt.open) {
    if (pending_count > 0) {
      uint64_t intended = pending[pending_head];
      pending_head = (pending_head + 1) % pending_cap;
      pending_count--;
      submit_call(c, intended);
    } else {
      idle[(idle_head + idle_count++) % (size_t)opt.connections] = c;
    }
    return;
  }
  // Closed loop: replace it at once (on the same connection).
  if (!opt.open && done < stop_at) submit_call(c, done);
}

// ---------------------------------------------------------------- calls and connections
static void put32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v; }

// Appends to a growing byte buffer (a connection's unsent or unparsed bytes).
static void append_bytes(uint8_t **buffer, size_t *length, size_t *capacity, const uint8_t *bytes, size_t n) {
  if (*length + n > *capacity) {
    *capacity = (*length + n) * 2;
    *buffer = realloc(*buffer, *capacity);
    if (!*buffer) die("out of memory");
  }
  memcpy(*buffer + *length, bytes, n);
  *length += n;
}

static void append_out(connection *c, const uint8_t *bytes, size_t n) { append_bytes(&c->out, &c->out_len, &c->out_cap, bytes, n); }

static uint64_t overflowed;  // calls not sent: every stream id of their connection was in use

// A lean request frame: header, method, no timeout, no request id, the message. With every
// stream id of the connection in use (the server far behind), the call is not sent: it counts
// as an error (and `overflowed`), as a client out of room would see it.
static void submit_lean(connection *c, call *k, const uint8_t *message, size_t n) {
  uint32_t stream = 0;
  for (uint32_t tried = 0; tried < LEAN_STREAMS; tried++) {
    stream = c->next_stream++ % LEAN_STREAMS;
    if (stream != 0 && !c->streams[stream]) break;
    stream = 0;
  }
  if (stream == 0) {
    if (k->intended >= measure_from && k->intended < stop_at) errors++;
    overflowed++;
    free(k);
    return;
  }
  c->streams[stream] = k;
  k->stream = (int32_t)stream;
  size_t method = strlen(opt.method);
  uint8_t frame[12 + 2 + 256 + 4 + 1 + 32];
  size_t payload = 2 + method + 4 + 1 + n;
  put32(frame, (uint32_t)(8 + payload));
  frame[4] = 1, frame[5] = 0, frame[6] = 0, frame[7] = 0;
  put32(frame + 8, stream);
  frame[12] = (uint8_t)(method >> 8), frame[13] = (uint8_t)method;
  memcpy(frame + 14, opt.method, method);
  put32(frame + 14 + method, 0);
  frame[18 + method] = 0;
  memcpy(frame + 19 + method, message, n);
  append_out(c, frame, 12 + payload);
  c->in_flight++;
  total_in_flight++;
  c->want_write = true;
}

// HTTP: the request line and headers up to Content-Length's value (made once), and the channel
// as JSON (its enum name, or the number for one without a name).
static char *http_prefix;
static size_t http_prefix_len;
static char channel_json[32];

static void submit_http(connection *c, call *k, uint64_t customer) {
  if (c->current) die("internal error: a second HTTP request on one connection");
  char body[160], head[32];
  int n = snprintf(body, sizeof body, "{\"customerId\":\"%" PRIu64 "\",\"channel\":%s,\"maxOffers\":%" PRIu64 "}", customer, channel_json, opt.offers);
  int h = snprintf(head, sizeof head, "%d\r\n\r\n", n);
  append_out(c, (const uint8_t *)http_prefix, http_prefix_len);
  append_out(c, (const uint8_t *)head, (size_t)h);
  append_out(c, (const uint8_t *)body, (size_t)n);
  c->current = k;
  c->in_flight++;
  total_in_flight++;
  c->want_write = true;
}

static void submit_call(connection *c, uint64_t intended) {
  call *k = calloc(1, sizeof(call));
  if (!k) die("out of memory");
  k->intended = intended;
  k->grpc_status = -1;
  k->conn = c;
  uint64_t customer = opt.first + next_random() % opt.customers;
  if (opt.transport == HTTP) {
    submit_http(c, k, customer);
    return;
  }
  uint8_t message[24];
  size_t n = 0;
  message[n++] = 0x08;
  n += put_varint(message + n, customer);
  message[n++] = 0x10;
  n += put_varint(message + n, opt.channel);
  message[n++] = 0x20;
  n += put_varint(message + n, opt.offers);
  k->body[0] = 0;  // not compressed
  k->body[1] = (uint8_t)(n >> 24), k->body[2] = (uint8_t)(n >> 16), k->body[3] = (uint8_t)(n >> 8), k->body[4] = (uint8_t)n;
  memcpy(k->body + 5, message, n);
  k->body_len = 5 + n;
  if (opt.transport == LEAN) {
    submit_lean(c, k, message, n);
    return;
  }
  char authority[300];
  snprintf(authority, sizeof authority, "%s:%d", opt.host, opt.port);
#define HEADER(N, V) {(uint8_t *)(N), (uint8_t *)(V), sizeof(N) - 1, strlen(V), NGHTTP2_NV_FLAG_NONE}
  static char authorization[1100];
  if (opt.token && !authorization[0]) snprintf(authorization, sizeof authorization, "Bearer %s", opt.token);
  nghttp2_nv headers[] = {
      HEADER(":method", "POST"), HEADER(":scheme", "http"), HEADER(":path", opt.method), HEADER(":authority", authority),
      HEADER("content-type", "application/grpc"), HEADER("te", "trailers"), HEADER("authorization", authorization),
  };
  size_t header_count = sizeof headers / sizeof headers[0] - (opt.token ? 0 : 1);
  nghttp2_data_provider provider = {.source.ptr = k, .read_callback = read_body};
  int32_t stream = nghttp2_submit_request(c->session, NULL, headers, header_count, &provider, k);
  if (stream < 0) die("submit: %s", nghttp2_strerror(stream));
  k->stream = stream;
  c->in_flight++;
  total_in_flight++;
  c->want_write = true;
}

static void http_lost(connection *c, const char *why, bool orderly);

static void flush(connection *c) {
  bool more;
  if (opt.transport != GRPC) {
    size_t sent = 0;
    while (sent < c->out_len) {
      ssize_t n = send(c->fd, c->out + sent, c->out_len - sent, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EINTR) continue;
        if (opt.transport == HTTP) {  // reopened; the call in flight counts as an error
          http_lost(c, strerror(errno), false);
          return;
        }
        failure = strerror(errno);
        return;
      }
      sent += (size_t)n;
    }
    if (sent > 0) memmove(c->out, c->out + sent, c->out_len - sent);  // (out is NULL until first used)
    c->out_len -= sent;
    more = c->out_len > 0;
  } else {
    int rv = nghttp2_session_send(c->session);
    if (rv != 0) {
      failure = nghttp2_strerror(rv);
      return;
    }
    more = nghttp2_session_want_write(c->session);
  }
  if (more != c->watching_out) {  // one syscall fewer per event when the interest stays the same
    struct epoll_event ev = {.events = EPOLLIN | (more ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
    c->watching_out = more;
  }
  c->want_write = false;
}

static void connect_to(connection *c) {
  static struct addrinfo *found;  // resolved once: HTTP reconnects during the run
  if (!found) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    char port[16];
    snprintf(port, sizeof port, "%d", opt.port);
    int rv = getaddrinfo(opt.host, port, &hints, &found);
    if (rv != 0) die("cannot resolve %s: %s", opt.host, gai_strerror(rv));
  }
  c->fd = socket(found->ai_family, SOCK_STREAM, 0);
  if (c->fd < 0 || connect(c->fd, found->ai_addr, found->ai_addrlen) != 0) die("cannot connect to %s:%d: %s", opt.host, opt.port, strerror(errno));
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
  if (opt.transport == HTTP) {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, c->fd, &ev);
    c->watching_out = true;
    return;
  }
  if (opt.transport == LEAN) {
    c->streams = calloc(LEAN_STREAMS, sizeof(call *));
    c->next_stream = 1;
    if (!c->streams) die("out of memory");
    append_out(c, (const uint8_t *)"ARB1", 4);
    if (opt.token) {  // the connection's hello (docs/lean-protocol.md), answered on stream 0
      size_t n = strlen(opt.token);
      uint8_t head[12] = {0};
      put32(head, (uint32_t)(8 + n));
      head[4] = 3;
      append_out(c, head, sizeof head);
      append_out(c, (const uint8_t *)opt.token, n);
    }
    c->want_write = true;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, c->fd, &ev);
    c->watching_out = true;
    return;
  }
  nghttp2_session_callbacks *callbacks;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_send_callback(callbacks, send_callback);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
  nghttp2_session_client_new(&c->session, callbacks, c);
  nghttp2_session_callbacks_del(callbacks);
  nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1024}, {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 24}};
  nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, settings, 2);
  nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, 1 << 26);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, c->fd, &ev);
  c->watching_out = true;
}

static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

// Lean responses: whole frames are parsed as they complete; the rest waits for more bytes.
static void lean_received(connection *c, const uint8_t *bytes, size_t n) {
  append_bytes(&c->in, &c->in_len, &c->in_cap, bytes, n);
  size_t at = 0;
  while (c->in_len - at >= 4) {
    uint32_t length = get32(c->in + at);
    if (length < 8) {
      failure = "bad lean frame length";
      return;
    }
    if (c->in_len - at < 4 + (size_t)length) break;
    const uint8_t *frame = c->in + at + 4;
    uint8_t type = frame[0];
    uint32_t stream = get32(frame + 4);
    if (type == 4) {
      failure = "the server sent a lean protocol error frame";
      return;
    }
    if (type == 2 && stream == 0 && length >= 8 + 5) {  // the hello's answer
      if (frame[8] << 8 | frame[9]) {
        failure = "the server refused the lean hello's credential";
        return;
      }
      at += 4 + (size_t)length;
      continue;
    }
    call *k = stream < LEAN_STREAMS ? c->streams[stream] : NULL;
    if (type != 2 || !k || length < 8 + 5) {
      failure = "unexpected lean frame";
      return;
    }
    c->streams[stream] = NULL;
    int status = frame[8] << 8 | frame[9];
    finish_call(c, k, status == 0 ? CALL_OK : status == 8 ? CALL_SHED : CALL_FAILED);
    at += 4 + (size_t)length;
  }
  memmove(c->in, c->in + at, c->in_len - at);
  c->in_len -= at;
}

// ---------------------------------------------------------------- HTTP/1.1 responses
// Parsed incrementally from the connection's unparsed bytes: the head (status line and headers,
// up to the blank line), then the body by Content-Length, by chunks (Transfer-Encoding: chunked,
// trailers skipped), or, with neither, until the server closes. 1xx responses are skipped.
enum { H_HEAD, H_LENGTH, H_CHUNK_SIZE, H_CHUNK_DATA, H_CHUNK_END, H_TRAILER, H_UNTIL_CLOSE };
#define HTTP_MAX_HEAD 65536
#define HTTP_MAX_BODY (64u << 20)

static void http_reset(connection *c) {
  c->h_state = H_HEAD;
  c->h_status = 0;
  c->h_close = c->h_chunked = false;
  c->h_length = -1;
  c->h_remaining = 0;
  c->h_scan = 0;
  c->h_status_line[0] = 0;
  c->body_len = 0;
}

// The first failed call, once: the response's status line and body, or what went wrong.
static void report_error(const char *what, const uint8_t *body, size_t body_len) {
  static bool reported;
  if (reported) return;
  reported = true;
  fprintf(stderr, "arbiter-load: first error: %s\n", what);
  if (body_len > 0) {
    size_t shown = body_len < 2000 ? body_len : 2000;
    fprintf(stderr, "%.*s%s\n", (int)shown, (const char *)body, shown < body_len ? " [...]" : "");
  }
}

// Closes the connection and opens a new one, with no bytes pending either way.
static void http_reconnect(connection *c) {
  epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->in_len = c->out_len = 0;
  c->want_write = false;
  http_reset(c);
  reconnects++;
  connect_to(c);
}

static bool http_ok(const connection *c) { return c->h_status == 200 && c->body_len > 0 && memmem(c->body, c->body_len, "\"decisionId\"", 12) != NULL; }

// The connection ended (closed by the server, a reset, a failed send or an unparseable
// response): reopened, and the call in flight counts as an error unless its body was to run until
// an orderly close.
static void http_lost(connection *c, const char *why, bool orderly) {
  call *k = c->current;
  bool ok = false;
  if (k && orderly && c->h_state == H_UNTIL_CLOSE) {
    ok = http_ok(c);
    if (!ok) report_error(c->h_status_line, c->body, c->body_len);
  } else if (k) {
    lost_in_flight++;
    char what[320];
    snprintf(what, sizeof what, "%s, with a request in flight (reconnected)", why);
    report_error(what, NULL, 0);
  }
  c->current = NULL;
  http_reconnect(c);
  if (k) finish_call(c, k, ok ? CALL_OK : CALL_FAILED);
}

static bool token_in(const char *value, size_t len, const char *token) {
  char text[256];
  size_t n = len < sizeof text - 1 ? len : sizeof text - 1;
  memcpy(text, value, n);
  text[n] = 0;
  return strcasestr(text, token) != NULL;
}

// The head without its blank line. False when it is not an HTTP/1.x response.
static bool http_parse_head(connection *c, const char *head, size_t len) {
  const char *eol = memmem(head, len, "\r\n", 2);
  size_t line = eol ? (size_t)(eol - head) : len;
  size_t shown = line < sizeof c->h_status_line - 1 ? line : sizeof c->h_status_line - 1;
  memcpy(c->h_status_line, head, shown);
  c->h_status_line[shown] = 0;
  if (line < 12 || memcmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ' || !isdigit((unsigned char)head[9]) || !isdigit((unsigned char)head[10]) ||
      !isdigit((unsigned char)head[11]) || (line > 12 && head[12] != ' '))
    return false;
  c->h_status = (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
  bool http10 = head[7] == '0', keep_alive = false;
  c->h_close = false;
  c->h_chunked = false;
  c->h_length = -1;
  bool encoded = false;
  size_t at = line + 2;
  while (at < len) {
    const char *start = head + at;
    const char *end = memmem(start, len - at, "\r\n", 2);
    size_t n = end ? (size_t)(end - start) : len - at;
    at += n + 2;
    const char *colon = memchr(start, ':', n);
    if (!colon || colon == start) return false;
    size_t name = (size_t)(colon - start);
    const char *value = colon + 1;
    size_t vlen = n - name - 1;
    while (vlen > 0 && (*value == ' ' || *value == '\t')) value++, vlen--;
    while (vlen > 0 && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t')) vlen--;
    if (name == 14 && strncasecmp(start, "content-length", 14) == 0) {
      if (vlen == 0 || vlen > 15) return false;
      int64_t length = 0;
      for (size_t i = 0; i < vlen; i++) {
        if (!isdigit((unsigned char)value[i])) return false;
        length = length * 10 + (value[i] - '0');
      }
      if (c->h_length >= 0 && c->h_length != length) return false;
      c->h_length = length;
    } else if (name == 17 && strncasecmp(start, "transfer-encoding", 17) == 0) {
      encoded = true;
      c->h_chunked = token_in(value, vlen, "chunked");
    } else if (name == 10 && strncasecmp(start, "connection", 10) == 0) {
      if (token_in(value, vlen, "close")) c->h_close = true;
      if (token_in(value, vlen, "keep-alive")) keep_alive = true;
    }
  }
  if (http10 && !keep_alive) c->h_close = true;
  // A transfer coding other than chunked runs until the close; chunked overrides a length.
  if (encoded) c->h_length = -1;
  return true;
}

static void append_body(connection *c, const uint8_t *bytes, size_t n) {
  append_bytes(&c->body, &c->body_len, &c->body_cap, bytes, n);
}

// Returns false when the connection was reopened (its buffers are then new).
static bool http_received(connection *c, const uint8_t *bytes, size_t n) {
  append_bytes(&c->in, &c->in_len, &c->in_cap, bytes, n);
  size_t at = 0;
  for (;;) {
    size_t left = c->in_len - at;
    const uint8_t *p = c->in + at;
    if (!c->current) {
      if (left == 0) break;
      http_lost(c, "bytes from the server with no request in flight", false);
      return false;
    }
    bool complete = false;
    switch (c->h_state) {
    case H_HEAD: {
      size_t from = c->h_scan;
      const uint8_t *end = left >= 4 ? memmem(p + from, left - from, "\r\n\r\n", 4) : NULL;
      if (!end) {
        if (left > HTTP_MAX_HEAD) {
          http_lost(c, "a response head over 64 KiB", false);
          return false;
        }
        c->h_scan = left >= 3 ? left - 3 : 0;
        goto more;
      }
      size_t head = (size_t)(end - p);
      if (!http_parse_head(c, (const char *)p, head)) {
        char what[320];
        snprintf(what, sizeof what, "not an HTTP/1.x response: \"%s\"", c->h_status_line);
        http_lost(c, what, false);
        return false;
      }
      at += head + 4;
      c->h_scan = 0;
      c->body_len = 0;
      if (c->h_status >= 100 && c->h_status < 200) break;  // informational: the real one follows
      if (c->h_status == 204 || c->h_status == 304) complete = true;
      else if (c->h_chunked) c->h_state = H_CHUNK_SIZE;
      else if (c->h_length >= 0) {
        if ((uint64_t)c->h_length > HTTP_MAX_BODY) {
          http_lost(c, "a response body over 64 MiB", false);
          return false;
        }
        c->h_remaining = (uint64_t)c->h_length;
        c->h_state = H_LENGTH;
        complete = c->h_remaining == 0;
      } else c->h_state = H_UNTIL_CLOSE;
      break;
    }
    case H_LENGTH:
    case H_CHUNK_DATA: {
      if (left == 0) goto more;
      size_t take = left < c->h_remaining ? left : (size_t)c->h_remaining;
      append_body(c, p, take);
      at += take;
      c->h_remaining -= take;
      if (c->h_remaining == 0) {
        if (c->h_state == H_LENGTH) complete = true;
        else c->h_state = H_CHUNK_END;
      }
      break;
    }
    case H_CHUNK_SIZE: {
      const uint8_t *end = memmem(p, left, "\r\n", 2);
      if (!end) {
        if (left > 1024) {
          http_lost(c, "a chunk-size line over 1 KiB", false);
          return false;
        }
        goto more;
      }
      uint64_t size = 0;
      size_t digits = 0;
      while (p + digits < end && isxdigit(p[digits]) && digits < 15) {
        uint8_t d = p[digits];
        size = size * 16 + (uint64_t)(d <= '9' ? d - '0' : (d | 0x20) - 'a' + 10);
        digits++;
      }
      // After the digits, only spaces or tabs and chunk extensions (";name=value").
      const uint8_t *rest = p + digits;
      while (rest < end && (*rest == ' ' || *rest == '\t')) rest++;
      if (digits == 0 || (rest < end && *rest != ';') || c->body_len + size > HTTP_MAX_BODY) {
        http_lost(c, "a bad chunk-size line", false);
        return false;
      }
      at += (size_t)(end - p) + 2;
      if (size == 0) c->h_state = H_TRAILER;
      else c->h_remaining = size, c->h_state = H_CHUNK_DATA;
      break;
    }
    case H_CHUNK_END:
      if (left < 2) goto more;
      if (p[0] != '\r' || p[1] != '\n') {
        http_lost(c, "a chunk not followed by CRLF", false);
        return false;
      }
      at += 2;
      c->h_state = H_CHUNK_SIZE;
      break;
    case H_TRAILER: {  // trailer fields, up to the blank line
      const uint8_t *end = memmem(p, left, "\r\n", 2);
      if (!end) {
        if (left > HTTP_MAX_HEAD) {
          http_lost(c, "trailers over 64 KiB", false);
          return false;
        }
        goto more;
      }
      at += (size_t)(end - p) + 2;
      if (end == p) complete = true;
      break;
    }
    case H_UNTIL_CLOSE:
      if (left == 0) goto more;
      if (c->body_len + left > HTTP_MAX_BODY) {
        http_lost(c, "a response body over 64 MiB", false);
        return false;
      }
      append_body(c, p, left);
      at += left;
      goto more;
    }
    if (!complete) continue;
    bool ok = http_ok(c), was_shed = c->h_status == 429;
    if (!ok && !was_shed) report_error(c->h_status_line, c->body, c->body_len);
    call_outcome outcome = ok ? CALL_OK : was_shed ? CALL_SHED : CALL_FAILED;
    call *k = c->current;
    c->current = NULL;
    // Without pipelining nothing may follow the response; after "Connection: close" (or HTTP/1.0
    // without keep-alive) the server closes: the connection is reopened before the next request.
    bool stray = at < c->in_len, reopen = c->h_close || stray;
    http_reset(c);
    if (reopen) {
      http_reconnect(c);
      finish_call(c, k, outcome);
      return false;
    }
    finish_call(c, k, outcome);  // may put the next request on this connection
  }
more:
  memmove(c->in, c->in + at, c->in_len - at);
  c->in_len -= at;
  return true;
}

static void readable(connection *c) {
  uint8_t buffer[65536];
  for (;;) {
    ssize_t n = recv(c->fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (opt.transport == HTTP) {
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n <= 0) {  // reopened: a keep-alive connection the server may close when it likes
        http_lost(c, n == 0 ? "the server closed the connection" : strerror(errno), n == 0);
        return;
      }
      if (!http_received(c, buffer, (size_t)n)) return;
      continue;
    }
    if (n == 0) {
      failure = "server closed the connection";
      return;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      failure = strerror(errno);
      return;
    }
    if (opt.transport == LEAN) {
      lean_received(c, buffer, (size_t)n);
      if (failure) return;
      continue;
    }
    ssize_t used = nghttp2_session_mem_recv(c->session, buffer, (size_t)n);
    if (used < 0) {
      failure = nghttp2_strerror((int)used);
      return;
    }
  }
}

// The machine's steal and total CPU ticks so far (the first line of /proc/stat).
static void steal_ticks(uint64_t *steal, uint64_t *total) {
  *steal = *total = 0;
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return;
  unsigned long long v[8] = {0};
  if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
    for (int i = 0; i < 8; i++) *total += v[i];
    *steal = v[7];
  }
  fclose(f);
}

static uint64_t cpu_ticks(int pid) {
  if (pid <= 0) return 0;
  char path[64], text[4096];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = 0;
  char *p = strrchr(text, ')');
  if (!p) return 0;
  // Fields after the command: state(3) ... utime(14) stime(15).
  unsigned long utime = 0, stime = 0;
  int field = 2;
  for (char *t = strtok(p + 1, " "); t; t = strtok(NULL, " ")) {
    field++;
    if (field == 14) utime = strtoul(t, NULL, 10);
    if (field == 15) {
      stime = strtoul(t, NULL, 10);
      break;
    }
  }
  return utime + stime;
}

static void usage(void) {
  fprintf(stderr,
          "usage: arbiter-load [--transport grpc|lean|http] [--host H] [--port P] [--method decide|noop] [--mode closed|open] [--concurrency N] [--rate R]\n"
          "                 [--connections C] [--duration S] [--warmup S] [--first-customer ID] [--customers N]\n"
          "                 [--channel N] [--offers N] [--server-pid PID] [--label TEXT] [--token T | --token-file F]\n"
          "  http: one request at a time per connection; closed loop needs --concurrency <= --connections\n");
  exit(2);
}

int main(int argc, char **argv) {
  opt = (options){.host = "127.0.0.1", .method = "decide", .port = 0, .connections = 4, .concurrency = 64, .rate = 5000,
                  .duration = 10, .warmup = 2, .first = 100000, .customers = 1000000, .channel = 1, .offers = 5, .label = ""};
  const char *mode = "closed";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(a, "--host")) opt.host = v;
    else if (!strcmp(a, "--port")) opt.port = atoi(v);
    else if (!strcmp(a, "--method")) opt.method = v;
    else if (!strcmp(a, "--mode")) mode = v;
    else if (!strcmp(a, "--concurrency")) opt.concurrency = atoi(v);
    else if (!strcmp(a, "--rate")) opt.rate = atof(v);
    else if (!strcmp(a, "--connections")) opt.connections = atoi(v);
    else if (!strcmp(a, "--duration")) opt.duration = atof(v);
    else if (!strcmp(a, "--warmup")) opt.warmup = atof(v);
    else if (!strcmp(a, "--first-customer")) opt.first = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--customers")) opt.customers = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--channel")) opt.channel = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--offers")) opt.offers = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--server-pid")) opt.server_pid = atoi(v);
    else if (!strcmp(a, "--label")) opt.label = v;
    else if (!strcmp(a, "--token")) {
      if (strlen(v) > 1000 || strpbrk(v, "\r\n")) usage();
      opt.token = v;
    }
    else if (!strcmp(a, "--token-file")) {  // its first line, e.g. the server's arbiter-data/admin-token
      static char line[1024];
      FILE *f = fopen(v, "r");
      if (!f) die("cannot read --token-file");
      if (!fgets(line, sizeof line, f)) line[0] = 0;
      fclose(f);
      line[strcspn(line, "\r\n")] = 0;
      if (!line[0]) die("--token-file is empty");
      opt.token = line;
    }
    else if (!strcmp(a, "--transport")) {
      if (!strcmp(v, "grpc")) opt.transport = GRPC;
      else if (!strcmp(v, "lean")) opt.transport = LEAN;
      else if (!strcmp(v, "http")) opt.transport = HTTP;
      else usage();
    }
    else usage();
  }
  const char *name = opt.method;
  bool http = opt.transport == HTTP;
  if (!strcmp(opt.method, "decide")) opt.method = http ? "/v1/decide" : "/arbiter.v1.DecisionService/Decide";
  else if (!strcmp(opt.method, "noop")) opt.method = http ? "/v1/benchmark/echo" : "/arbiter.v1.BenchmarkService/Echo";
  else usage();
  if (strcmp(mode, "closed") && strcmp(mode, "open")) usage();
  if (opt.port == 0) opt.port = opt.transport == LEAN ? 50052 : http ? 8080 : 50051;
  opt.open = !strcmp(mode, "open");
  if (opt.connections < 1 || opt.rate <= 0 || opt.duration <= 0 || opt.customers < 1) usage();
  // Closed loop: gRPC and lean put at least one call on every connection; HTTP/1.1 (not
  // pipelined) at most one.
  if (!opt.open && !http && opt.concurrency < opt.connections) usage();
  if (!opt.open && http && (opt.concurrency < 1 || opt.concurrency > opt.connections))
    die("--transport http carries one request at a time per connection: closed loop needs --concurrency (%d) <= --connections (%d)", opt.concurrency,
        opt.connections);
  if (http) {
    static const char *const channels[] = {NULL, "CHANNEL_WEB", "CHANNEL_MOBILE_APP", "CHANNEL_CONTACT_CENTRE", "CHANNEL_BRANCH", "CHANNEL_ATM", "CHANNEL_EMAIL", "CHANNEL_SMS"};
    if (opt.channel >= 1 && opt.channel <= 7) snprintf(channel_json, sizeof channel_json, "\"%s\"", channels[opt.channel]);
    else snprintf(channel_json, sizeof channel_json, "%" PRIu64, opt.channel);
    bool v6 = strchr(opt.host, ':') != NULL;  // an IPv6 literal goes in brackets
    int n = asprintf(&http_prefix, "POST %s HTTP/1.1\r\nHost: %s%s%s:%d\r\n%s%s%sContent-Type: application/json\r\nContent-Length: ", opt.method,
                     v6 ? "[" : "", opt.host, v6 ? "]" : "", opt.port, opt.token ? "Authorization: Bearer " : "", opt.token ? opt.token : "",
                     opt.token ? "\r\n" : "");
    if (n < 0) die("out of memory");
    http_prefix_len = (size_t)n;
    idle = calloc((size_t)opt.connections, sizeof(connection *));
    if (!idle) die("out of memory");
  }

  epoll_fd = epoll_create1(0);
  connection *conns = calloc((size_t)opt.connections, sizeof(connection));
  for (int i = 0; i < opt.connections; i++) {
    connect_to(&conns[i]);
    if (http && opt.open) idle[idle_count++] = &conns[i];
  }
  uint64_t start = now_ns();
  measure_from = start + (uint64_t)(opt.warmup * 1e9);
  stop_at = measure_from + (uint64_t)(opt.duration * 1e9);
  uint64_t cpu_before = 0, steal_before = 0, all_before = 0;
  bool cpu_taken = false;
  if (!opt.open) {
    for (int i = 0; i < opt.concurrency; i++) submit_call(&conns[i % opt.connections], start);
  }
  uint64_t next_send = start, sent = 0;
  struct epoll_event events[64];
  while (!failure) {
    uint64_t t = now_ns();
    if (!cpu_taken && t >= measure_from) {
      cpu_before = cpu_ticks(opt.server_pid);
      steal_ticks(&steal_before, &all_before);
      cpu_taken = true;
    }
    if (t >= stop_at && total_in_flight == 0 && pending_count == 0 && (!opt.open || next_send >= stop_at)) break;
    if (t >= stop_at + 30000000000ULL) break;  // calls still open 30 s after the end: counted as errors
    // Every request scheduled before the end is sent, even when the generator wakes late (its
    // latency then counts from its intended time).
    if (opt.open) {
      while (next_send <= t && next_send < stop_at) {
        if (!http) {
          submit_call(&conns[sent % (uint64_t)opt.connections], next_send);
        } else if (idle_count > 0) {  // HTTP: the connection free the longest
          connection *c = idle[idle_head];
          idle_head = (idle_head + 1) % (size_t)opt.connections;
          idle_count--;
          submit_call(c, next_send);
        } else {  // every connection busy: it waits, its latency counted from now (intended)
          if (pending_count == pending_cap) {
            size_t cap = pending_cap ? pending_cap * 2 : 1024;
            uint64_t *grown = malloc(cap * sizeof *grown);
            if (!grown) die("out of memory");
            for (size_t j = 0; j < pending_count; j++) grown[j] = pending[(pending_head + j) % pending_cap];
            free(pending);
            pending = grown, pending_cap = cap, pending_head = 0;
          }
          pending[(pending_head + pending_count++) % pending_cap] = next_send;
        }
        sent++;
        next_send = start + (uint64_t)((double)sent * 1e9 / opt.rate);
      }
    }
    for (int i = 0; i < opt.connections; i++)
      if (conns[i].want_write) flush(&conns[i]);
    // Sleep until the next intended send (open loop) or at most 1 ms, with nanosecond precision.
    uint64_t wait = 1000000;
    if (opt.open && next_send < stop_at) wait = next_send > t ? next_send - t : 0;
    if (wait > 1000000) wait = 1000000;
    struct timespec timeout = {.tv_sec = 0, .tv_nsec = (long)wait};
    int n = epoll_pwait2(epoll_fd, events, 64, &timeout, NULL);
    for (int i = 0; i < n; i++) {
      connection *c = events[i].data.ptr;
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) readable(c);
      c->want_write = true;
    }
  }
  uint64_t cpu_after = cpu_ticks(opt.server_pid);
  uint64_t steal_after, all_after;
  steal_ticks(&steal_after, &all_after);
  uint64_t cpu_end = now_ns();
  if (failure) die("%s", failure);
  // Calls still unanswered (or, HTTP, still waiting for a connection) 30 s after the end count as
  // errors.
  errors += (uint64_t)total_in_flight + pending_count;
  if (overflowed > 0)
    fprintf(stderr, "arbiter-load: lean: %" PRIu64 " calls not sent, every stream id of their connection in use (counted as errors when measured)\n",
            overflowed);
  if (reconnects > 0)
    fprintf(stderr, "arbiter-load: http: %" PRIu64 " reconnections, %" PRIu64 " with a request in flight (counted as errors when measured)\n", reconnects,
            lost_in_flight);
  double seconds = opt.duration;
  double rate = (double)completed / seconds;
  char loop[64];
  if (opt.open) snprintf(loop, sizeof loop, "open %.0f/s", opt.rate);
  else snprintf(loop, sizeof loop, "closed concurrency %d", opt.concurrency);
  printf("%s%s %s %s over %d connections (arbiter-load, C): %.0f req/s, p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms, errors %" PRIu64,
         opt.label[0] ? opt.label : "", transport_names[opt.transport], name, loop, opt.connections, rate, hist_quantile(&hist, 0.5) / 1e6, hist_quantile(&hist, 0.9) / 1e6,
         hist_quantile(&hist, 0.99) / 1e6, hist_quantile(&hist, 0.999) / 1e6, hist.max / 1e6, errors);
  // Requests shed by the server (RESOURCE_EXHAUSTED at its in-flight limit): neither answered
  // (the req/s and latencies are of the admitted ones) nor errors.
  if (shed > 0)
    printf(", shed %" PRIu64 " (%.1f%% of %" PRIu64 " sent)", shed,
           100.0 * (double)shed / (double)(shed + completed + errors), shed + completed + errors);
  if (opt.server_pid > 0 && cpu_taken) {
    // The CPU window runs from the start of measuring until the last call of the window ended.
    double cpu = (double)(cpu_after - cpu_before) / (double)sysconf(_SC_CLK_TCK);
    double window = (double)(cpu_end - measure_from) / 1e9;
    printf(", server CPU %.0f%% (%.1f µs per request)", 100 * cpu / window, completed ? cpu / (double)completed * 1e6 : 0);
  }
  if (cpu_taken && all_after > all_before)
    printf(", host steal %.1f%%", 100.0 * (double)(steal_after - steal_before) / (double)(all_after - all_before));
  printf("\n");
  return errors > 0 && completed == 0 ? 1 : 0;
}
