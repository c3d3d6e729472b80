// arbiter-load: a load generator for Arbiter's DecisionService/Decide and its no-op baseline
// BenchmarkService/Echo over gRPC (HTTP/2 on nghttp2) or the lean protocol
// (docs/lean-protocol.md), light enough that the server, not the generator, is what a 2-core
// machine measures. One thread, non-blocking sockets and epoll; N connections.
//
//   closed loop: `--concurrency N` requests in flight in total, a new one when one completes;
//   open loop:   `--rate R` requests per second on a fixed schedule; each latency is measured
//                from the request's intended send time, so a stalled server is not hidden
//                (no coordinated omission). The generator wakes for the next intended time
//                (nanosecond timeout) and sends every request then due.
//
// Every request draws its customer uniformly from [first, first + customers) and is encoded
// by hand (customer_id, channel, max_offers). A call succeeds when its trailers say
// grpc-status 0 and a length-prefixed message arrived (gRPC), or its response frame says status
// 0 (lean). Latencies go to a log-linear histogram
// (1 µs to ~70 s, under 0.8% relative error): p50, p90, p99, p99.9, max. With --server-pid the
// server's CPU time over the measured window is read from /proc.
//
// Output: one line, in the form `arbiter-tools bench` prints.
#define _GNU_SOURCE
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
typedef struct {
  const char *host, *method;
  bool lean;
  int port, connections, concurrency;
  double rate, duration, warmup;
  bool open;
  uint64_t first, customers, channel, offers;
  int server_pid;
  const char *label;
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
  // Lean protocol: calls by stream id, the next id, and the unsent and unparsed bytes.
  call **streams;
  uint32_t next_stream;
  uint8_t *out, *in;
  size_t out_len, out_cap, in_len, in_cap;
};

static options opt;
static histogram hist;
static uint64_t completed, errors, stop_at, measure_from;
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static int total_in_flight;
static int epoll_fd;
static const char *failure;

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

static void finish_call(connection *c, call *k, bool ok);

static int on_stream_close(nghttp2_session *session, int32_t stream, uint32_t error_code, void *user) {
  connection *c = user;
  call *k = nghttp2_session_get_stream_user_data(session, stream);
  if (!k) return 0;
  finish_call(c, k, error_code == 0 && k->grpc_status == 0 && k->got_message);
  return 0;
}

static void finish_call(connection *c, call *k, bool ok) {
  uint64_t done = now_ns();
  if (k->intended >= measure_from && k->intended < stop_at) {
    if (ok) {
      completed++;
      hist_record(&hist, done - k->intended);
    } else {
      errors++;
    }
  }
  c->in_flight--;
  total_in_flight--;
  free(k);
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

// A lean request frame: header, method, no timeout, no request id, the message.
static void submit_lean(connection *c, call *k, const uint8_t *message, size_t n) {
  uint32_t stream;
  do {
    stream = c->next_stream++ % LEAN_STREAMS;
  } while (stream == 0 || c->streams[stream]);
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

static void submit_call(connection *c, uint64_t intended) {
  call *k = calloc(1, sizeof(call));
  if (!k) die("out of memory");
  k->intended = intended;
  k->grpc_status = -1;
  k->conn = c;
  uint8_t message[24];
  size_t n = 0;
  message[n++] = 0x08;
  n += put_varint(message + n, opt.first + next_random() % opt.customers);
  message[n++] = 0x10;
  n += put_varint(message + n, opt.channel);
  message[n++] = 0x20;
  n += put_varint(message + n, opt.offers);
  k->body[0] = 0;  // not compressed
  k->body[1] = (uint8_t)(n >> 24), k->body[2] = (uint8_t)(n >> 16), k->body[3] = (uint8_t)(n >> 8), k->body[4] = (uint8_t)n;
  memcpy(k->body + 5, message, n);
  k->body_len = 5 + n;
  if (opt.lean) {
    submit_lean(c, k, message, n);
    return;
  }
  char authority[300];
  snprintf(authority, sizeof authority, "%s:%d", opt.host, opt.port);
#define HEADER(N, V) {(uint8_t *)(N), (uint8_t *)(V), sizeof(N) - 1, strlen(V), NGHTTP2_NV_FLAG_NONE}
  nghttp2_nv headers[] = {
      HEADER(":method", "POST"), HEADER(":scheme", "http"), HEADER(":path", opt.method), HEADER(":authority", authority),
      HEADER("content-type", "application/grpc"), HEADER("te", "trailers"),
  };
  nghttp2_data_provider provider = {.source.ptr = k, .read_callback = read_body};
  int32_t stream = nghttp2_submit_request(c->session, NULL, headers, sizeof headers / sizeof headers[0], &provider, k);
  if (stream < 0) die("submit: %s", nghttp2_strerror(stream));
  k->stream = stream;
  c->in_flight++;
  total_in_flight++;
  c->want_write = true;
}

static void flush(connection *c) {
  bool more;
  if (opt.lean) {
    size_t sent = 0;
    while (sent < c->out_len) {
      ssize_t n = send(c->fd, c->out + sent, c->out_len - sent, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        failure = strerror(errno);
        return;
      }
      sent += (size_t)n;
    }
    memmove(c->out, c->out + sent, c->out_len - sent);
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
  struct epoll_event ev = {.events = EPOLLIN | (more ? EPOLLOUT : 0), .data.ptr = c};
  epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
  c->want_write = false;
}

static void connect_to(connection *c) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *found;
  char port[16];
  snprintf(port, sizeof port, "%d", opt.port);
  int rv = getaddrinfo(opt.host, port, &hints, &found);
  if (rv != 0) die("cannot resolve %s: %s", opt.host, gai_strerror(rv));
  c->fd = socket(found->ai_family, SOCK_STREAM, 0);
  if (c->fd < 0 || connect(c->fd, found->ai_addr, found->ai_addrlen) != 0) die("cannot connect to %s:%d: %s", opt.host, opt.port, strerror(errno));
  freeaddrinfo(found);
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
  if (opt.lean) {
    c->streams = calloc(LEAN_STREAMS, sizeof(call *));
    c->next_stream = 1;
    if (!c->streams) die("out of memory");
    append_out(c, (const uint8_t *)"ARB1", 4);
    c->want_write = true;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, c->fd, &ev);
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
    call *k = stream < LEAN_STREAMS ? c->streams[stream] : NULL;
    if (type != 2 || !k || length < 8 + 5) {
      failure = "unexpected lean frame";
      return;
    }
    c->streams[stream] = NULL;
    int status = frame[8] << 8 | frame[9];
    finish_call(c, k, status == 0);
    at += 4 + (size_t)length;
  }
  memmove(c->in, c->in + at, c->in_len - at);
  c->in_len -= at;
}

static void readable(connection *c) {
  uint8_t buffer[65536];
  for (;;) {
    ssize_t n = recv(c->fd, buffer, sizeof buffer, 0);
    if (n == 0) {
      failure = "server closed the connection";
      return;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      failure = strerror(errno);
      return;
    }
    if (opt.lean) {
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
          "usage: arbiter-load [--transport grpc|lean] [--host H] [--port P] [--method decide|noop] [--mode closed|open] [--concurrency N] [--rate R]\n"
          "                 [--connections C] [--duration S] [--warmup S] [--first-customer ID] [--customers N]\n"
          "                 [--channel N] [--offers N] [--server-pid PID] [--label TEXT]\n");
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
    else if (!strcmp(a, "--transport")) {
      if (strcmp(v, "grpc") && strcmp(v, "lean")) usage();
      opt.lean = !strcmp(v, "lean");
    }
    else usage();
  }
  const char *name = opt.method;
  if (!strcmp(opt.method, "decide")) opt.method = "/arbiter.v1.DecisionService/Decide";
  else if (!strcmp(opt.method, "noop")) opt.method = "/arbiter.v1.BenchmarkService/Echo";
  else usage();
  if (strcmp(mode, "closed") && strcmp(mode, "open")) usage();
  if (opt.port == 0) opt.port = opt.lean ? 50052 : 50051;
  opt.open = !strcmp(mode, "open");
  if (opt.connections < 1 || opt.concurrency < opt.connections || opt.rate <= 0 || opt.duration <= 0 || opt.customers < 1) usage();

  epoll_fd = epoll_create1(0);
  connection *conns = calloc((size_t)opt.connections, sizeof(connection));
  for (int i = 0; i < opt.connections; i++) connect_to(&conns[i]);
  uint64_t start = now_ns();
  measure_from = start + (uint64_t)(opt.warmup * 1e9);
  stop_at = measure_from + (uint64_t)(opt.duration * 1e9);
  uint64_t cpu_before = 0;
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
      cpu_taken = true;
    }
    if (t >= stop_at && total_in_flight == 0 && (!opt.open || next_send >= stop_at)) break;
    if (t >= stop_at + 30000000000ULL) break;  // calls still open 30 s after the end: counted as errors
    // Every request scheduled before the end is sent, even when the generator wakes late (its
    // latency then counts from its intended time).
    if (opt.open) {
      while (next_send <= t && next_send < stop_at) {
        submit_call(&conns[sent % (uint64_t)opt.connections], next_send);
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
  uint64_t cpu_end = now_ns();
  if (failure) die("%s", failure);
  // Calls still unanswered 30 s after the end count as errors.
  errors += (uint64_t)total_in_flight;
  double seconds = opt.duration;
  double rate = (double)completed / seconds;
  char loop[64];
  if (opt.open) snprintf(loop, sizeof loop, "open %.0f/s", opt.rate);
  else snprintf(loop, sizeof loop, "closed concurrency %d", opt.concurrency);
  printf("%s%s %s %s over %d connections (arbiter-load, C): %.0f req/s, p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms, errors %" PRIu64,
         opt.label[0] ? opt.label : "", opt.lean ? "lean" : "grpc", name, loop, opt.connections, rate, hist_quantile(&hist, 0.5) / 1e6, hist_quantile(&hist, 0.9) / 1e6,
         hist_quantile(&hist, 0.99) / 1e6, hist_quantile(&hist, 0.999) / 1e6, hist.max / 1e6, errors);
  if (opt.server_pid > 0 && cpu_taken) {
    // The CPU window runs from the start of measuring until the last call of the window ended.
    double cpu = (double)(cpu_after - cpu_before) / (double)sysconf(_SC_CLK_TCK);
    double window = (double)(cpu_end - measure_from) / 1e9;
    printf(", server CPU %.0f%% (%.1f µs per request)", 100 * cpu / window, completed ? cpu / (double)completed * 1e6 : 0);
  }
  printf("\n");
  return errors > 0 && completed == 0 ? 1 : 0;
}
