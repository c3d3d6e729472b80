/* arbiter-c: decide and record outcomes over Arbiter's lean protocol, from C.
 *
 *   arbiter-c [--host H] [--port P] [--timeout-ms N] [--token T | --token-file F] decide --customer ID
 *             [--channel web] [--max 3] [--reason R] [--page P]
 *   arbiter-c [--host H] [--port P] [--timeout-ms N] [--token T | --token-file F] outcome --decision ID
 *             --offer ID --outcome accept
 *
 * TLS: --tls (the server's certificate checked against the system's roots), --ca FILE (against
 * that authority instead), --cert FILE [--key FILE] (a client certificate, for a server that
 * requires them); any of them makes the connection TLS. --host must then be a name or address
 * the server's certificate is for.
 *
 * The credential sent in the connection's hello: --token, else --token-file's first line, else
 * $ARBITER_TOKEN, $ARBITER_TOKEN_FILE, or the admin token the server wrote to arbiter-data/admin-token;
 * with none, no hello is sent (a server that requires none).
 *
 * Exit status: the call's gRPC status code (0 OK), 2 for bad usage. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arbiter_client.h"

static const char *channels[] = {"", "web", "mobile-app", "contact-centre", "branch", "atm", "email", "sms"};
static const char *outcomes[] = {"", "impression", "click", "accept", "decline", "convert"};

static int lookup(const char *name, const char **table, int n) {
  for (int i = 1; i < n; i++)
    if (strcmp(name, table[i]) == 0) return i;
  return -1;
}

static int usage(void) {
  fprintf(stderr,
          "usage: arbiter-c [--host H] [--port P] [--timeout-ms N] [--token T | --token-file F] decide --customer ID [--channel C] [--max N] [--reason R] [--page P]\n"
          "       arbiter-c [--host H] [--port P] [--timeout-ms N] [--token T | --token-file F] outcome --decision ID --offer ID --outcome accept|decline|click|impression|convert\n"
          "       TLS: [--tls] [--ca FILE] [--cert FILE [--key FILE]] before the command\n");
  return 2;
}

int main(int argc, char **argv) {
  /* A write to a connection the server closed (a refused client certificate, a restart) is an
   * error to report, not a signal to die of. */
  signal(SIGPIPE, SIG_IGN);
  const char *host = "127.0.0.1", *command = NULL, *channel = "web", *reason = "", *page = "";
  const char *decision = NULL, *offer = NULL, *outcome = NULL, *token = NULL, *token_file = NULL;
  int port = 50052, timeout_ms = 1000, max = 3, use_tls = 0;
  arbiter_tls tls = {0};
  unsigned long long customer = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!command && (strcmp(a, "decide") == 0 || strcmp(a, "outcome") == 0)) { command = a; continue; }
    if (strcmp(a, "--tls") == 0) { use_tls = 1; continue; }
    if (!v) return usage();
    if (strcmp(a, "--host") == 0) host = v;
    else if (strcmp(a, "--port") == 0) port = atoi(v);
    else if (strcmp(a, "--timeout-ms") == 0) timeout_ms = atoi(v);
    else if (strcmp(a, "--token") == 0) token = v;
    else if (strcmp(a, "--token-file") == 0) token_file = v;
    else if (strcmp(a, "--ca") == 0) { tls.ca_file = v; use_tls = 1; }
    else if (strcmp(a, "--cert") == 0) { tls.cert_file = v; use_tls = 1; }
    else if (strcmp(a, "--key") == 0) { tls.key_file = v; use_tls = 1; }
    else if (strcmp(a, "--customer") == 0) customer = strtoull(v, NULL, 10);
    else if (strcmp(a, "--channel") == 0) channel = v;
    else if (strcmp(a, "--max") == 0) max = atoi(v);
    else if (strcmp(a, "--reason") == 0) reason = v;
    else if (strcmp(a, "--page") == 0) page = v;
    else if (strcmp(a, "--decision") == 0) decision = v;
    else if (strcmp(a, "--offer") == 0) offer = v;
    else if (strcmp(a, "--outcome") == 0) outcome = v;
    else return usage();
    i++;
  }
  if (!command) return usage();
  char err[256], message[512];
  arbiter_client *client = arbiter_connect_tls(host, port, use_tls ? &tls : NULL, err, sizeof err);
  if (!client) {
    fprintf(stderr, "arbiter-c: %s\n", err);
    return ARBITER_UNAVAILABLE;
  }
  char credential[8192];
  int found = 0;
  if (token) {
    snprintf(credential, sizeof credential, "%s", token);
    found = 1;
  } else if (token_file) {
    FILE *f = fopen(token_file, "r");
    if (!f) {
      fprintf(stderr, "arbiter-c: cannot read --token-file %s\n", token_file);
      arbiter_close(client);
      return 2;
    }
    if (!fgets(credential, sizeof credential, f)) credential[0] = 0;
    fclose(f);
    credential[strcspn(credential, "\r\n")] = 0;
    found = credential[0] != 0;
  } else {
    found = arbiter_find_credential(credential, sizeof credential);
    if (found < 0) {
      fprintf(stderr, "arbiter-c: %s\n", credential);
      arbiter_close(client);
      return 2;
    }
  }
  int status;
  if (found) {
    status = arbiter_hello(client, credential, timeout_ms, message, sizeof message);
    if (status != 0) {
      fprintf(stderr, "arbiter-c: the server refused the credential: status %d: %s\n", status, message);
      arbiter_close(client);
      return status;
    }
  }
  if (strcmp(command, "decide") == 0) {
    int ch = lookup(channel, channels, 8);
    if (customer == 0 || ch < 0 || max < 1) { arbiter_close(client); return usage(); }
    Arbiter__V1__InteractionContext context = ARBITER__V1__INTERACTION_CONTEXT__INIT;
    context.call_reason = (char *)reason;
    context.page = (char *)page;
    Arbiter__V1__DecideRequest req = ARBITER__V1__DECIDE_REQUEST__INIT;
    req.customer_id = customer;
    req.channel = (Arbiter__V1__Channel)ch;
    req.context = &context;
    req.max_offers = (uint32_t)max;
    req.request_id = "arbiter-c";
    Arbiter__V1__DecideResponse *resp = NULL;
    status = arbiter_decide(client, &req, &resp, timeout_ms, message, sizeof message);
    if (status == 0) {
      printf("decision %s for customer %llu on %s (bundle %s/%s, %llu us)\n", resp->decision_id,
             (unsigned long long)resp->customer_id, channel, resp->versions ? resp->versions->bundle_name : "?",
             resp->versions ? resp->versions->bundle_version : "?", (unsigned long long)resp->decision_nanos / 1000);
      for (size_t i = 0; i < resp->n_offers; i++) {
        Arbiter__V1__RankedOffer *o = resp->offers[i];
        printf("%u. %s propensity %.4f score %.2f probability %.3f\n", o->rank, o->offer_id, o->propensity, o->score, o->probability);
        if (o->treatment) printf("   %s\n", o->treatment->agent_script && *o->treatment->agent_script ? o->treatment->agent_script : o->treatment->message);
      }
      protobuf_c_message_free_unpacked(&resp->base, NULL);
    }
  } else {
    int kind = outcome ? lookup(outcome, outcomes, 6) : -1;
    if (!decision || !offer || kind < 0) { arbiter_close(client); return usage(); }
    Arbiter__V1__OutcomeEvent event = ARBITER__V1__OUTCOME_EVENT__INIT;
    event.decision_id = (char *)decision;
    event.offer_id = (char *)offer;
    event.outcome = (Arbiter__V1__Outcome)kind;
    Arbiter__V1__OutcomeEvent *events[1] = {&event};
    Arbiter__V1__RecordOutcomesRequest req = ARBITER__V1__RECORD_OUTCOMES_REQUEST__INIT;
    req.n_outcomes = 1;
    req.outcomes = events;
    Arbiter__V1__RecordOutcomesResponse *resp = NULL;
    status = arbiter_record_outcomes(client, &req, &resp, timeout_ms, message, sizeof message);
    if (status == 0) {
      printf("recorded %u\n", resp->recorded);
      protobuf_c_message_free_unpacked(&resp->base, NULL);
    }
  }
  if (status != 0) fprintf(stderr, "arbiter-c: status %d: %s\n", status, message);
  arbiter_close(client);
  return status;
}
