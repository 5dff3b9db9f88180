#!/usr/bin/env python3
"""The walkthrough of docs/AGENT.md from Python, through the client that openapi-python-client
generates from docs/agent-openapi.json (the package `websrm_agent_client`): its typed functions
and models only, no hand-made HTTP.

    PYTHONPATH=clients/python/generated python3 clients/python/walkthrough.py \\
        http://127.0.0.1:PORT /path/to/pos.db.agent-token

Prints `ok: <step>` for each step and ends with `N passed, 0 failed`; exits non-zero at the
first step that does not behave as documented. `cargo xtask clients` generates the client and
runs this against a fresh agent and a local authority.
"""

import json
import re
import sys
import uuid

from websrm_agent_client import AuthenticatedClient, Client
from websrm_agent_client.api.agent import get_health
from websrm_agent_client.api.billing import check_billing_guard
from websrm_agent_client.api.certificates import (
    delete_certificate,
    enrol,
    list_certificates,
    replace_certificate,
)
from websrm_agent_client.api.device import get_device_id
from websrm_agent_client.api.signatures import sign_transaction
from websrm_agent_client.models import (
    ApiError,
    BillingGuardBody,
    CertificateBody,
    CertificatesBody,
    Confirm,
    DeviceIdAnswerBodyType0,
    DeviceIdAnswerBodyType0Answer,
    DeviceIdBody,
    EnrolledBody,
    EnrolmentRequest,
    HealthBody,
    ReplaceRequest,
    SectorName,
    SignedBody,
    SignRequest,
)
from websrm_agent_client.types import Response

PASSED = 0


def check(what, condition, detail=""):
    """Records a step that behaved as documented, or stops at the first one that did not."""
    global PASSED
    if not condition:
        print(f"FAILED: {what}: {detail}")
        print(f"{PASSED} passed, 1 failed")
        sys.exit(1)
    PASSED += 1
    print(f"ok: {what}")


def said(body: dict) -> dict:
    """What a body says: its members that are neither null nor empty lists."""
    return {k: v for k, v in body.items() if v is not None and v != []}


def failed(response: Response, status: int, kind: str) -> bool:
    """Whether a call failed with `status` and an ApiError of this `kind`, in both languages."""
    return (
        response.status_code == status
        and isinstance(response.parsed, ApiError)
        and response.parsed.kind == kind
        and response.parsed.message_fr != ""
        and response.parsed.message_en != ""
    )


def shown(response: Response) -> str:
    return f"{int(response.status_code)} {response.content.decode('utf-8', 'replace')}"


def transaction(no_trans: str) -> SignRequest:
    return SignRequest(
        identification_number="5678912340",
        no_trans=no_trans,
        dat_trans="20261201120000",
        tps="+0000000000.13",
        tvq="+0000000000.26",
        apres_tax="+0000000002.39",
        no_tps="567891234RT0001",
        mod_impr="FAC",
        mod_trans="CMP",
    )


def main():
    url, token_file = sys.argv[1], sys.argv[2]
    with open(token_file, encoding="ascii") as f:
        token = f.read().strip()
    agent = AuthenticatedClient(base_url=url, token=token, timeout=30.0)
    anonymous = Client(base_url=url, timeout=30.0)
    impostor = AuthenticatedClient(base_url=url, token="0" * 64, timeout=30.0)

    # a. Is the agent up? Health needs no token, and then says only that.
    r = get_health.sync_detailed(client=anonymous)
    check(
        "health without the token",
        r.status_code == 200
        and isinstance(r.parsed, HealthBody)
        and r.parsed.status == "ok"
        and said(json.loads(r.content)) == {"status": "ok"},
        shown(r),
    )
    # Every other call needs the token.
    r = list_certificates.sync_detailed(client=anonymous)
    check("no token: 401 unauthorized", failed(r, 401, "unauthorized"), shown(r))
    r = list_certificates.sync_detailed(client=impostor)
    check("a wrong token: 401 unauthorized", failed(r, 401, "unauthorized"), shown(r))

    # b. A first certificate: the device-identifier question comes first.
    nickname = "Caisse du bar"
    request = EnrolmentRequest(
        identification_number="5678912340",
        authorization_code="D8T8-W8W8",
        sector=SectorName.RBC,
        qst="5678912340TQ0001",
        file_number="ER0001",
        nickname=nickname,
    )
    r = enrol.sync_detailed(client=agent, body=request)
    check("the device-identifier question", failed(r, 409, "device_id_question"), shown(r))
    request.device_id_answer = DeviceIdAnswerBodyType0(answer=DeviceIdAnswerBodyType0Answer.REQUEST_NEW)
    r = enrol.sync_detailed(client=agent, body=request)
    enrolled = r.parsed
    check(
        "enrolment with a new device identifier",
        r.status_code == 201
        and isinstance(enrolled, EnrolledBody)
        and isinstance(enrolled.device_id, str)
        and re.fullmatch(r"\d{4}-\d{4}-\d{4}", enrolled.device_id) is not None
        and enrolled.certificate.health == "valid"
        and enrolled.certificate.usable,
        shown(r),
    )
    assert isinstance(enrolled, EnrolledBody)
    device_id = enrolled.device_id

    # c. The certificates and the device identifier.
    r = list_certificates.sync_detailed(client=agent)
    check(
        "certificates",
        r.status_code == 200
        and isinstance(r.parsed, CertificatesBody)
        and [(c.nickname, c.serial) for c in r.parsed.certificates]
        == [(nickname, enrolled.certificate.serial)],
        shown(r),
    )
    r = get_device_id.sync_detailed(client=agent)
    check(
        "device identifier",
        r.status_code == 200 and isinstance(r.parsed, DeviceIdBody) and r.parsed.device_id == device_id,
        shown(r),
    )

    # d. Before each bill.
    r = check_billing_guard.sync_detailed(client=agent, identification_number="5678912340")
    check(
        "billing guard: allowed",
        r.status_code == 200 and isinstance(r.parsed, BillingGuardBody) and r.parsed.allowed is True,
        shown(r),
    )

    # e. Signatures, sent again with the same Idempotency-Key as a till does after a lost answer.
    first_key = str(uuid.uuid4())
    r = sign_transaction.sync_detailed(
        client=agent, body=transaction("0000000001"), idempotency_key=first_key
    )
    first = r.parsed
    check(
        "signature 1",
        r.status_code == 200
        and isinstance(first, SignedBody)
        and first.position == 1
        and first.preced == "=" * 88,
        shown(r),
    )
    assert isinstance(first, SignedBody)
    again = sign_transaction.sync_detailed(
        client=agent, body=transaction("0000000001"), idempotency_key=first_key
    )
    check(
        "the same key and body again: the same link",
        again.status_code == 200 and isinstance(again.parsed, SignedBody) and again.content == r.content,
        shown(again),
    )
    r = sign_transaction.sync_detailed(
        client=agent, body=transaction("0000000002"), idempotency_key=first_key
    )
    check(
        "the same key, another body: 422 idempotency_conflict",
        failed(r, 422, "idempotency_conflict"),
        shown(r),
    )
    r = sign_transaction.sync_detailed(
        client=agent, body=transaction("0000000002"), idempotency_key=str(uuid.uuid4())
    )
    check(
        "signature 2 follows signature 1",
        r.status_code == 200
        and isinstance(r.parsed, SignedBody)
        and r.parsed.position == 2
        and r.parsed.preced == first.actu,
        shown(r),
    )

    # f. Replace, with the user's confirmation only.
    r = replace_certificate.sync_detailed(nickname, client=agent, body=ReplaceRequest(confirm=False))
    check("a replacement needs the confirmation", failed(r, 422, "not_confirmed"), shown(r))
    r = replace_certificate.sync_detailed(nickname, client=agent, body=ReplaceRequest(confirm=True))
    check(
        "replacement",
        r.status_code == 200
        and isinstance(r.parsed, CertificateBody)
        and r.parsed.serial != enrolled.certificate.serial
        and r.parsed.usable,
        shown(r),
    )

    # g. Delete, with the user's confirmation; the device keeps its identifier.
    r = delete_certificate.sync_detailed(nickname, client=agent, body=Confirm(confirm=True))
    check(
        "deletion",
        r.status_code == 200
        and isinstance(r.parsed, CertificatesBody)
        and r.parsed.device_id == device_id
        and all(c.nickname != nickname or not c.usable for c in r.parsed.certificates),
        shown(r),
    )
    r = get_device_id.sync_detailed(client=agent)
    check(
        "the device keeps its identifier",
        r.status_code == 200 and isinstance(r.parsed, DeviceIdBody) and r.parsed.device_id == device_id,
        shown(r),
    )

    print(f"{PASSED} passed, 0 failed")


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except Exception as error:  # a generated parser that cannot read an answer, a refused connection…
        print(f"FAILED: {type(error).__name__}: {error}")
        print(f"{PASSED} passed, 1 failed")
        sys.exit(1)
