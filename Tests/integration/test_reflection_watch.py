"""Streaming calls through the real binary: gRPC server reflection (v1 and v1alpha, read by grpcio-reflection's
descriptor database, then Predict called through the dynamically resolved types), a bidirectional stream fed
in split and batched DATA frames, and grpc.health.v1.Health/Watch (NOT_SERVING -> SERVING as a model loads,
NOT_SERVING on drain, the per-connection cap, cancellation releasing the stream)."""
import queue
import signal
import subprocess
import threading
import time
import urllib.request

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from conftest import RawH2, grpc_frame, sluice_bin
from modelfixtures import SHARED_MODELS, Fixture, register, wait_serving

CHURN = SHARED_MODELS / "spark_churn_rf"
SERVED = {"sluice.v1.Inference", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
          "grpc.reflection.v1alpha.ServerReflection", "inference.GRPCInferenceService"}


def poll(predicate, timeout=30.0, interval=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def reflection_call(channel, version):
    return channel.stream_stream(f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
                                 request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                                 response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)


def test_reflection_resolves_types_and_calls_predict(tmp_path, sluice_server, proto_modules):
    registry = tmp_path / "registry"
    register(sluice_bin(), registry, "churn", CHURN / "model.onnx")
    server = wait_serving(sluice_server("--models", registry), proto_modules)
    with server.channel() as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        assert set(database.get_services()) == SERVED
        pool = descriptor_pool.DescriptorPool(database)
        service = pool.FindServiceByName("sluice.v1.Inference")
        assert {"Predict", "BatchPredict", "GetModelVersion", "Rollout"} <= set(service.methods_by_name)
        assert pool.FindMethodByName("grpc.health.v1.Health.Watch").output_type.full_name == \
            "grpc.health.v1.HealthCheckResponse"
        # The Open Inference Protocol service resolves too (Triton's grpc_service.proto and its import).
        infer = pool.FindMethodByName("inference.GRPCInferenceService.ModelInfer")
        assert infer.input_type.full_name == "inference.ModelInferRequest"
        assert pool.FindMessageTypeByName("inference.ModelConfig").fields_by_name["max_batch_size"]
        predict = service.methods_by_name["Predict"]
        request_class = message_factory.GetMessageClass(predict.input_type)
        reply_class = message_factory.GetMessageClass(predict.output_type)
        request = request_class(model="churn")
        fixture = Fixture(CHURN)
        for name, value in fixture.row(0).items():
            if isinstance(value, str):
                request.features[name].text = value
            else:
                request.features[name].number = float("nan") if value is None else value
        call = channel.unary_unary("/sluice.v1.Inference/Predict", request_serializer=request_class.SerializeToString,
                                   response_deserializer=reply_class.FromString)
        reply = call(request, timeout=10)
        assert reply.label_int == fixture.labels[0]
        assert reply.version == 1 and reply.model == "churn"

        # v1 answers the same on its own name; several requests on one stream, each answered in order.
        requests = [reflection_pb2.ServerReflectionRequest(list_services=""),
                    reflection_pb2.ServerReflectionRequest(file_containing_symbol="sluice.v1.PredictRequest"),
                    reflection_pb2.ServerReflectionRequest(file_by_filename="grpc/health/v1/health.proto"),
                    reflection_pb2.ServerReflectionRequest(file_containing_symbol="no.such.Thing"),
                    reflection_pb2.ServerReflectionRequest(
                        file_containing_extension=reflection_pb2.ExtensionRequest(
                            containing_type="sluice.v1.PredictRequest", extension_number=100)),
                    reflection_pb2.ServerReflectionRequest(all_extension_numbers_of_type="sluice.v1.PredictRequest")]
        answers = list(reflection_call(channel, "v1")(iter(requests), timeout=10))
        assert len(answers) == len(requests)
        assert {s.name for s in answers[0].list_services_response.service} == SERVED
        assert answers[1].original_request == requests[1]
        assert len(answers[1].file_descriptor_response.file_descriptor_proto) >= 1
        assert len(answers[2].file_descriptor_response.file_descriptor_proto) >= 1
        for missing in answers[3:5]:
            assert missing.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
        assert "no.such.Thing" in answers[3].error_response.error_message
        assert answers[5].all_extension_numbers_response.base_type_name == "sluice.v1.PredictRequest"
        assert list(answers[5].all_extension_numbers_response.extension_number) == []


def test_reflection_stream_handles_split_and_batched_frames(sluice_server):
    server = sluice_server()
    h2 = RawH2(server.port)
    try:
        stream = h2.start_call("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
        first = grpc_frame(reflection_pb2.ServerReflectionRequest(list_services="").SerializeToString())
        # One message split over three DATA frames: nothing may be answered before its last byte.
        for piece in (first[:3], first[3:6], first[6:]):
            h2.conn.send_data(stream, piece)
            h2.flush()
        # Two messages in one DATA frame, then END_STREAM.
        two = b"".join(grpc_frame(reflection_pb2.ServerReflectionRequest(file_containing_symbol=s).SerializeToString())
                       for s in ("grpc.health.v1.Health", "grpc.health.v1.Health.Check"))
        h2.conn.send_data(stream, two, end_stream=True)
        h2.flush()
        headers, data, trailers, ended = h2.response(stream, timeout=10)
        assert ended and headers[":status"] == "200" and trailers.get("grpc-status") == "0", (headers, trailers)
        answers = []
        while data:
            length = int.from_bytes(data[1:5], "big")
            answers.append(reflection_pb2.ServerReflectionResponse.FromString(data[5:5 + length]))
            data = data[5 + length:]
        assert [a.WhichOneof("message_response") for a in answers] == \
            ["list_services_response", "file_descriptor_response", "file_descriptor_response"]
        # Garbage in a stream: the call ends INVALID_ARGUMENT, the connection keeps serving.
        bad = h2.start_call("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
        h2.send_message(bad, b"\xff\xff\xff")
        _, _, trailers, ended = h2.response(bad, timeout=10)
        assert ended and trailers.get("grpc-status") == str(grpc.StatusCode.INVALID_ARGUMENT.value[0]), trailers
    finally:
        h2.close()
    server.assert_alive()


class Watcher:
    """Reads a Watch stream on a thread; statuses arrive in `updates`."""

    def __init__(self, stub, pb, service="", channel=None):
        self.call = stub.Watch(pb.HealthCheckRequest(service=service), timeout=60)
        self.updates = queue.Queue()
        self.error = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for response in self.call:
                self.updates.put(response.status)
        except grpc.RpcError as error:
            self.error = error
        self.updates.put(None)

    def next(self, timeout=30.0):
        return self.updates.get(timeout=timeout)


def test_watch_sees_model_load_then_drain(tmp_path, sluice_server, proto_modules):
    pb, pb_grpc = proto_modules.health_pb2, proto_modules.health_pb2_grpc
    SERVING, NOT_SERVING = pb.HealthCheckResponse.SERVING, pb.HealthCheckResponse.NOT_SERVING
    registry = tmp_path / "registry"
    # Registered without a stage: known to the server but not loaded, so the model is NOT_SERVING.
    register(sluice_bin(), registry, "churn", CHURN / "model.onnx", stage="None")
    server = wait_serving(sluice_server("--models", registry, "--drain-timeout", "20"), proto_modules)
    channel = server.channel()
    stub = pb_grpc.HealthStub(channel)
    model = Watcher(stub, pb, "churn")
    overall = Watcher(stub, pb, "")
    unknown = Watcher(stub, pb, "fraud")
    assert model.next() == NOT_SERVING
    assert overall.next() == SERVING
    assert unknown.next() == pb.HealthCheckResponse.SERVICE_UNKNOWN
    promote = subprocess.run([sluice_bin(), "models", "promote", "churn", "1", "--stage", "Production",
                              "--registry", str(registry)], capture_output=True, text=True)
    assert promote.returncode == 0, promote.stderr
    assert model.next() == SERVING
    assert stub.Check(pb.HealthCheckRequest(service="churn")).status == SERVING
    server.signal(signal.SIGTERM)
    assert overall.next() == NOT_SERVING
    assert model.next() == NOT_SERVING
    # The drain ends the streams (UNAVAILABLE: reconnect elsewhere), and the server exits cleanly.
    assert overall.next() is None and model.next() is None
    assert overall.error.code() == grpc.StatusCode.UNAVAILABLE
    assert server.stop() == 0
    channel.close()


def test_watch_cap_and_cancellation_free_streams(tmp_path, sluice_server, proto_modules):
    pb, pb_grpc = proto_modules.health_pb2, proto_modules.health_pb2_grpc
    registry = tmp_path / "registry"
    register(sluice_bin(), registry, "churn", CHURN / "model.onnx")
    server = wait_serving(sluice_server("--models", registry, "--max-watch-streams-per-connection", "2",
                                       "--admin-listen", "127.0.0.1:0"), proto_modules)
    admin_port = int(next(l for l in server.lines if "admin" in l and "http://" in l).rsplit(":", 1)[1].split("/")[0])

    def watch_streams():
        text = urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics").read().decode()
        return int(float(next(l for l in text.splitlines() if l.startswith("sluice_health_watch_streams ")).split()[1]))

    with server.channel() as channel:
        stub = pb_grpc.HealthStub(channel)
        first, second = Watcher(stub, pb), Watcher(stub, pb)
        assert first.next() == pb.HealthCheckResponse.SERVING and second.next() == pb.HealthCheckResponse.SERVING
        assert watch_streams() == 2
        third = Watcher(stub, pb)
        assert third.next() is None
        assert third.error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "maxWatchStreamsPerConnection" in third.error.details()
        # Cancelling frees the slot and the server's subscription.
        first.call.cancel()
        assert poll(lambda: watch_streams() == 1)
        fourth = Watcher(stub, pb)
        assert fourth.next() == pb.HealthCheckResponse.SERVING
        # Check and Predict keep working beside open streams.
        assert stub.Check(pb.HealthCheckRequest()).status == pb.HealthCheckResponse.SERVING
        second.call.cancel()
        fourth.call.cancel()
        assert poll(lambda: watch_streams() == 0)
    # A connection closed with streams open releases them too.
    other = server.channel()
    Watcher(pb_grpc.HealthStub(other), pb).next()
    assert poll(lambda: watch_streams() == 1)
    other.close()
    assert poll(lambda: watch_streams() == 0)
    server.assert_alive()


def test_closed_health_also_closes_reflection_and_watch(tmp_path, sluice_server, proto_modules):
    import hashlib
    import json
    import secrets

    pb, pb_grpc = proto_modules.health_pb2, proto_modules.health_pb2_grpc
    registry = tmp_path / "registry"
    register(sluice_bin(), registry, "churn", CHURN / "model.onnx")
    key = "slk_" + secrets.token_urlsafe(32)
    config = tmp_path / "security.json"
    config.write_text(json.dumps({
        "apiKeys": [{"id": "k1", "sha256": hashlib.sha256(key.encode()).hexdigest(), "principal": "ops",
                     "roles": ["viewer"]}],
        "health": {"open": False}}))
    server = sluice_server("--models", registry, "--security-config", config)
    with server.channel() as channel:
        stub = pb_grpc.HealthStub(channel)
        credentials = [("x-api-key", key)]
        assert poll(lambda: stub.Check(pb.HealthCheckRequest(), metadata=credentials).status ==
                    pb.HealthCheckResponse.SERVING)
        with pytest.raises(grpc.RpcError) as info:
            next(stub.Watch(pb.HealthCheckRequest(), timeout=10))
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as info:
            list(reflection_call(channel, "v1alpha")(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                                     timeout=10))
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        watch = stub.Watch(pb.HealthCheckRequest(), metadata=credentials, timeout=10)
        assert next(watch).status == pb.HealthCheckResponse.SERVING
        watch.cancel()
        answers = list(reflection_call(channel, "v1alpha")(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), metadata=credentials, timeout=10))
        assert {s.name for s in answers[0].list_services_response.service} == SERVED
