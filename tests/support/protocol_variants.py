"""Clients that speak another wire protocol than the installed botocore picks for a service.

AWS moves services between protocols (Athena: ``json`` until botocore 1.44.17, ``rest-json``
from 1.44.18). botocore ships serializers for every protocol, so a test can build the other
form of a service's model from the installed one and drive the sandbox with a real botocore
client in either form:

* ``json``: the same operations and shapes, every member in the JSON body, the operation in
  ``X-Amz-Target`` (as older botocore releases sent Athena calls);
* ``smithy-rpc-v2-cbor``: the same, CBOR bodies to ``/service/<Prefix>/operation/<Op>``;
* ``rest-json``: the installed model when it is already rest-json, otherwise one derived from
  it with a ``POST /<Operation>`` route per operation (registered with the sandbox, which
  cannot know made-up routes otherwise).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.model import ServiceModel

from wizard.sandbox import protocol

# What older botocore releases sent as X-Amz-Target prefixes (the json form's metadata).
TARGET_PREFIX = {"athena": "AmazonAthena",
                 "serverlessrepo": "AWSServerlessApplicationRepository"}


def installed_document(service: str) -> dict[str, Any]:
    loader = botocore.loaders.Loader()
    version = loader.determine_latest_version(service, "service-2")
    return copy.deepcopy(loader.load_service_model(service, "service-2", version))


def variant_document(service: str, form: str) -> dict[str, Any]:
    """The service's model in protocol ``form`` ("json" or "rest-json")."""
    doc = installed_document(service)
    meta = doc["metadata"]
    installed = meta.get("protocols") or [meta["protocol"]]
    if form in installed:
        meta["protocol"], meta["protocols"] = form, [form]
        return doc
    # An RPC model (and our made-up REST one) has no HTTP bindings: every member in the body.
    for shape in doc["shapes"].values():
        shape.pop("payload", None)
        for member in shape.get("members", {}).values():
            member.pop("location", None)
    if form in ("json", "smithy-rpc-v2-cbor"):
        meta.update(protocol=form, protocols=[form],
                    jsonVersion=meta.get("jsonVersion", "1.1"),
                    targetPrefix=meta.get("targetPrefix") or TARGET_PREFIX.get(service, service))
        return doc
    if form == "rest-json":
        for name, op in doc["operations"].items():
            op["http"] = {"method": "POST", "requestUri": f"/{name}",
                          "responseCode": op.get("http", {}).get("responseCode", 200)}
        meta.update(protocol="rest-json", protocols=["rest-json"])
        return doc
    raise ValueError(f"no {form} form of {service}")


def needs_registration(service: str, form: str) -> bool:
    """A derived rest-json form has routes the installed model does not know."""
    meta = installed_document(service)["metadata"]
    return form == "rest-json" and form not in (meta.get("protocols") or [meta["protocol"]])


def client_in(form: str, service: str, profile: str, tmp: Path) -> Any:
    """A boto3 client of ``profile`` whose model (and so wire protocol) is ``form``."""
    doc = variant_document(service, form)
    folder = tmp / f"models-{form}" / service / doc["metadata"]["apiVersion"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "service-2.json").write_text(json.dumps(doc))
    bs = botocore.session.Session(profile=profile)
    bs.get_component("data_loader").search_paths.insert(0, str(tmp / f"models-{form}"))
    if needs_registration(service, form):
        protocol.register_model(service, ServiceModel(doc, service_name=service))
    client = boto3.Session(botocore_session=bs).client(service)
    assert client.meta.service_model.protocol == form
    return client
