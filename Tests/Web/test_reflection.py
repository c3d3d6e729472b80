"""gRPC server reflection, as a generic tool uses it: grpcio-reflection's client (PyPI) lists the
services over grpc.reflection.v1alpha, builds every message from the descriptors the server sends
(no .proto files here), and calls Decide with them; the same is then asked over
grpc.reflection.v1 with messages built from those descriptors too."""
import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from harness import Credential, Server, free_port


def test_a_generic_client_lists_the_services_and_calls_decide_from_reflection_alone():
    port = free_port()
    server = Server.launch(grpc_port=port)
    try:
        plain = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(plain).result(timeout=30)
        channel = grpc.intercept_channel(plain, Credential(server.token))
        database = ProtoReflectionDescriptorDatabase(channel)
        services = database.get_services()
        for name in ("arbiter.v1.DecisionService", "arbiter.v1.ProfileService", "arbiter.v1.AdminService",
                     "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"):
            assert name in services, services

        pool = DescriptorPool(database)
        decide = pool.FindMethodByName("arbiter.v1.DecisionService.Decide")
        assert decide.input_type.full_name == "arbiter.v1.DecideRequest"
        # Comments travel with the descriptors (tools show them).
        request_type = message_factory.GetMessageClass(decide.input_type)
        response_type = message_factory.GetMessageClass(decide.output_type)
        web = pool.FindEnumTypeByName("arbiter.v1.Channel").values_by_name["CHANNEL_WEB"].number
        call = channel.unary_unary("/arbiter.v1.DecisionService/Decide",
                                   request_serializer=request_type.SerializeToString,
                                   response_deserializer=response_type.FromString)
        response = call(request_type(customer_id=100042, channel=web, max_offers=3), timeout=30)
        assert response.customer_id == 100042
        assert 1 <= len(response.offers) <= 3 and response.decision_id
        assert response.offers[0].propensity > 0

        # The same over grpc.reflection.v1, its messages too built from what the server sent.
        v1 = "grpc.reflection.v1."
        v1_request = message_factory.GetMessageClass(pool.FindMessageTypeByName(v1 + "ServerReflectionRequest"))
        v1_response = message_factory.GetMessageClass(pool.FindMessageTypeByName(v1 + "ServerReflectionResponse"))
        info = channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                                     request_serializer=v1_request.SerializeToString,
                                     response_deserializer=v1_response.FromString)
        answers = list(info(iter([v1_request(list_services=""),
                                  v1_request(file_containing_symbol="arbiter.v1.ProfileService.GetProfile"),
                                  v1_request(file_containing_symbol="arbiter.v1.NoSuchThing")]), timeout=30))
        assert [s.name for s in answers[0].list_services_response.service] == sorted(services)
        assert len(answers[1].file_descriptor_response.file_descriptor_proto) >= 2  # the file and its import
        assert answers[2].error_response.error_code == 5
        assert "no symbol 'arbiter.v1.NoSuchThing'" in answers[2].error_response.error_message

        # Without a credential, reflection is refused like any call.
        bare = ProtoReflectionDescriptorDatabase(plain)
        try:
            bare.get_services()
            raise AssertionError("reflection answered without a credential")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        server.stop()
