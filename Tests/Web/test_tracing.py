"""OpenTelemetry tracing, received by a collector as a real one receives it: the OTLP/gRPC
TraceService of the opentelemetry-proto package (PyPI), served here. A decision over HTTP (on the
event loop and through the router) and over gRPC is a span in the caller's trace (W3C
traceparent), named by door and method, carrying the decision id."""
import http.client
import json
import threading
import time
import urllib.request
from concurrent import futures

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from harness import Server, free_port
from test_reflection import Credential


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """Keeps every span exported to it, with its resource's service.name."""

    def __init__(self):
        self.spans = []
        self.lock = threading.Lock()

    def Export(self, request, context):
        with self.lock:
            for resource_spans in request.resource_spans:
                attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope in resource_spans.scope_spans:
                    self.spans += [(attributes.get("service.name"), span) for span in scope.spans]
        return trace_service_pb2.ExportTraceServiceResponse()

    def wait_for(self, predicate, seconds=30):
        deadline = time.time() + seconds
        while time.time() < deadline:
            with self.lock:
                found = [(service, span) for service, span in self.spans if predicate(span)]
            if found:
                return found
            time.sleep(0.2)
        with self.lock:
            names = [span.name for _, span in self.spans]
        raise AssertionError(f"no such span within {seconds} s; received: {names}")


def attributes(span):
    values = {}
    for a in span.attributes:
        kind = a.value.WhichOneof("value")
        values[a.key] = getattr(a.value, kind) if kind else None
    return values


def traceparent(trace_id, parent_id):
    return f"00-{trace_id}-{parent_id}-01"


def test_decisions_are_spans_in_the_callers_trace_with_their_decision_id():
    collector = Collector()
    receiver = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, receiver)
    otlp_port = receiver.add_insecure_port("127.0.0.1:0")
    receiver.start()
    grpc_port = free_port()
    server = Server.launch(grpc_port=grpc_port, extra_args=["--otlp-endpoint", f"http://127.0.0.1:{otlp_port}"])
    try:
        body = json.dumps({"customerId": "100042", "channel": "CHANNEL_WEB", "maxOffers": 3})
        auth = {"Authorization": "Bearer " + server.token, "Content-Type": "application/json"}

        # HTTP, keep-alive: answered on the event loop.
        inline_trace, inline_parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.request("POST", "/v1/decide", body,
                           {**auth, "traceparent": traceparent(inline_trace, inline_parent)})
        inline = json.loads(connection.getresponse().read())
        connection.close()

        # HTTP through the router (urllib closes the connection after the request).
        page_trace, page_parent = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
        request = urllib.request.Request(
            server.url + "/v1/personalize", method="POST",
            data=json.dumps({"customerId": "100043", "channel": "CHANNEL_WEB", "slots": [{"name": "hero"}]}).encode(),
            headers={**auth, "traceparent": traceparent(page_trace, page_parent)})
        with urllib.request.urlopen(request, timeout=30) as response:
            page = json.loads(response.read())

        # gRPC, its messages built from reflection.
        channel = grpc.intercept_channel(grpc.insecure_channel(f"127.0.0.1:{grpc_port}"), Credential(server.token))
        pool = DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
        method = pool.FindMethodByName("arbiter.v1.DecisionService.Decide")
        request_type = message_factory.GetMessageClass(method.input_type)
        response_type = message_factory.GetMessageClass(method.output_type)
        decide = channel.unary_unary("/arbiter.v1.DecisionService/Decide",
                                     request_serializer=request_type.SerializeToString,
                                     response_deserializer=response_type.FromString)
        grpc_trace, grpc_parent = "5bf92f3577b34da6a3ce929d0e0e4737", "10f067aa0ba902b8"
        web = pool.FindEnumTypeByName("arbiter.v1.Channel").values_by_name["CHANNEL_WEB"].number
        decided = decide(request_type(customer_id=100044, channel=web, max_offers=3), timeout=30,
                         metadata=(("traceparent", traceparent(grpc_trace, grpc_parent)),))

        for trace_id, parent_id, name, decision_id in [
            (inline_trace, inline_parent, "http POST /v1/decide", inline["decisionId"]),
            (page_trace, page_parent, "http POST /v1/personalize", page["decisionId"]),
            (grpc_trace, grpc_parent, "grpc arbiter.v1.DecisionService/Decide", decided.decision_id),
        ]:
            ((service, span),) = collector.wait_for(lambda s: s.trace_id == bytes.fromhex(trace_id))
            assert service == "arbiter"
            assert span.parent_span_id == bytes.fromhex(parent_id), name
            assert span.name == name
            assert span.kind == span.SPAN_KIND_SERVER
            values = attributes(span)
            assert values.get("arbiter.decision_id") == decision_id, (name, values)
            assert span.end_time_unix_nano >= span.start_time_unix_nano > 0

        # A request without a traceparent starts a trace of its own.
        plain = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        plain.request("POST", "/v1/decide", json.dumps({"customerId": "100045", "channel": "CHANNEL_WEB"}), auth)
        own = json.loads(plain.getresponse().read())
        plain.close()
        ((_, root),) = collector.wait_for(lambda s: attributes(s).get("arbiter.decision_id") == own["decisionId"])
        assert root.parent_span_id == b"" and len(root.trace_id) == 16
    finally:
        server.stop()
        receiver.stop(0)
