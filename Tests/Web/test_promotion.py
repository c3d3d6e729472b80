"""The promotion gate as an operator meets it: a challenger scoring in the shadow of the live
bundle, traffic with outcomes through the HTTP door, Promote asked over gRPC (messages built from
the server's reflection, as a generic tool builds them), and the verdict — a refusal, with its
numbers — on the decision dashboard in headless Chromium."""
import json
import os
import shutil

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from selenium.webdriver.common.by import By

from harness import Credential, Server, free_port, screenshot, wait_until
from test_dashboard import make_traffic, open_dashboard


def challenger_beside(bundle_root):
    """The live bundle again as version 2 of the same bundle: a challenger the log can tell apart."""
    target = os.path.join(bundle_root, "2")
    shutil.copytree(os.path.join(bundle_root, "1"), target)
    path = os.path.join(target, "manifest.json")
    with open(path) as f:
        manifest = json.load(f)
    manifest["version"] = "2"
    with open(path, "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
    return target


class Admin:
    """AdminService calls with messages built from the server's reflection."""

    def __init__(self, port, token):
        plain = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(plain).result(timeout=30)
        self.channel = grpc.intercept_channel(plain, Credential(token))
        self.pool = DescriptorPool(ProtoReflectionDescriptorDatabase(self.channel))

    def call(self, method, **fields):
        descriptor = self.pool.FindMethodByName(f"arbiter.v1.AdminService.{method}")
        request = message_factory.GetMessageClass(descriptor.input_type)(**fields)
        response = message_factory.GetMessageClass(descriptor.output_type)
        call = self.channel.unary_unary(f"/arbiter.v1.AdminService/{method}",
                                        request_serializer=type(request).SerializeToString,
                                        response_deserializer=response.FromString)
        return call(request, timeout=60)


def test_a_refused_promotion_says_why_with_the_numbers_and_the_dashboard_lists_it(driver):
    port = free_port()
    server = Server.launch(grpc_port=port, customers=5000)
    try:
        admin = Admin(port, server.token)
        challenger = challenger_beside(os.path.join(server.workdir, "bundle"))
        status = admin.call("SetChallenger", bundle_path=challenger, share=1.0)
        assert status.active and status.challenger.bundle_version == "2"
        make_traffic(server, 400, start=100500, accept_every=2)

        verdict = admin.call("Promote", dry_run=True)
        assert not verdict.approved and not verdict.promoted
        assert verdict.champion == "demo/1" and verdict.challenger == "demo/2"
        assert "fewer than the 1000 a verdict needs" in verdict.reason, verdict.reason
        try:
            admin.call("Promote")
            raise AssertionError("a challenger was promoted on 400 decisions")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, error
            assert "fewer than the 1000" in error.details()

        open_dashboard(driver, server)
        wait_until(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#promotions table.verdicts tbody tr")) == 2,
                   timeout=6, message="two verdicts on the dashboard")
        rows = driver.execute_script(
            "return [...document.querySelectorAll('#promotions tbody tr')].map(r => [...r.cells].map(c => c.textContent))")
        assert [row[1] for row in rows] == ["refused", "refused"], rows
        assert rows[0][2] == "demo/2 vs demo/1" and "fewer than the 1000" in rows[0][6], rows
        driver.execute_script("document.getElementById('t-promotions').scrollIntoView()")
        screenshot(driver, "dashboard-promotions")
    finally:
        server.stop()
