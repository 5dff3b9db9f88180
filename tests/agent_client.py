#!/usr/bin/env python3
"""The walkthrough of docs/AGENT.md, from a program written in Python with the standard library
only: what any point-of-sale software can do with the websrm agent.

    python3 tests/agent_client.py http://127.0.0.1:PORT /path/to/pos.db.agent-token

Exits non-zero at the first step that does not behave as documented.
"""

import json
import sys
import urllib.error
import urllib.parse
import urllib.request


class Agent:
    def __init__(self, url, token):
        self.url = url.rstrip("/")
        self.token = token

    def call(self, method, path, body=None, token=True):
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", "Bearer " + (self.token if token is True else token))
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read().decode("utf-8"))


PASSED = 0


def check(what, condition, detail=""):
    global PASSED
    if not condition:
        print(f"FAILED: {what} {detail}")
        print(f"{PASSED} passed, 1 failed")
        sys.exit(1)
    PASSED += 1
    print(f"ok: {what}")


def main():
    url, token_file = sys.argv[1], sys.argv[2]
    with open(token_file, encoding="ascii") as f:
        agent = Agent(url, f.read().strip())

    # 1. Is the agent up? (no token needed)
    status, health = agent.call("GET", "/v1/health", token=False)
    check("health", status == 200 and health["status"] == "ok", health)

    # 2. Every other call needs the token.
    status, error = agent.call("GET", "/v1/certificates", token="0" * 64)
    check("a wrong token is refused", status == 401 and error["kind"] == "unauthorized", error)

    # 3. A first certificate: the device has no identifier, the user has none either.
    request = {
        "identification_number": "5678912340",
        "authorization_code": "D8T8-W8W8",
        "sector": "RBC",
        "qst": "5678912340TQ0001",
        "file_number": "ER0001",
        "nickname": "Caisse Python",
    }
    status, error = agent.call("POST", "/v1/enrolments", request)
    check("the device-identifier question comes first", status == 409 and error["kind"] == "device_id_question", error)
    request["device_id_answer"] = {"answer": "request_new"}
    status, enrolled = agent.call("POST", "/v1/enrolments", request)
    check("enrolment", status == 201 and enrolled["certificate"]["health"] == "valid", enrolled)
    device_id = enrolled["device_id"]

    # 4. The device identifier, for the screen and the user report.
    status, body = agent.call("GET", "/v1/device-id")
    check("device identifier", status == 200 and body["device_id"] == device_id, body)

    # 5. Status with warnings in French and English; the billing guard.
    status, body = agent.call("GET", "/v1/certificates")
    check("certificates", status == 200 and body["certificates"][0]["nickname"] == "Caisse Python", body)
    status, guard = agent.call("GET", "/v1/billing-guard?" + urllib.parse.urlencode({"identification_number": "5678912340"}))
    check("billing allowed", status == 200 and guard["allowed"] is True, guard)

    # 6. Three transactions signed in their chain, then the transmission headers.
    actus = []
    preced = "=" * 88
    for number in range(1, 4):
        status, signed = agent.call("POST", "/v1/signatures", {
            "identification_number": "5678912340",
            "noTrans": f"{number:010d}",
            "datTrans": "20261201120000",
            "TPS": "+0000000000.13",
            "TVQ": "+0000000000.26",
            "apresTax": "+0000000002.39",
            "noTPS": "567891234RT0001",
            "modImpr": "FAC",
            "modTrans": "CMP",
        })
        check(f"signature {number}", status == 200 and signed["preced"] == preced and signed["position"] == number, signed)
        preced = signed["actu"]
        actus.append(signed["actu"])
    status, headers = agent.call("POST", "/v1/transmission-signatures", {
        "identification_number": "5678912340",
        "authorization_code": "D8T8-W8W8",
        "actus": actus,
    })
    check("SIGNATRANSM", status == 200 and len(headers["SIGNATRANSM"]) == 88 and len(headers["EMPRCERTIFTRANSM"]) == 40, headers)

    # 7. Replace, with the user's confirmation.
    path = "/v1/certificates/" + urllib.parse.quote("Caisse Python") + "/replace"
    status, error = agent.call("POST", path, {})
    check("a replacement needs the confirmation", status == 422 and error["kind"] == "not_confirmed", error)
    status, replaced = agent.call("POST", path, {"confirm": True})
    check("replacement", status == 200 and replaced["serial"] != enrolled["certificate"]["serial"], replaced)

    # 8. Delete, with the user's confirmation; the device keeps its identifier.
    path = "/v1/certificates/" + urllib.parse.quote("Caisse Python") + "/delete"
    status, body = agent.call("POST", path, {"confirm": True})
    check("deletion", status == 200 and body["certificates"] == [] and body["device_id"] == device_id, body)

    # 9. An authority refusal: its id, codRetour and both languages.
    request.pop("device_id_answer")
    request["authorization_code"] = "A1A1-A1A1"
    status, error = agent.call("POST", "/v1/enrolments", request)
    check("a refusal carries the authority's error", status == 422 and error["errors"][0]["id"] == "JW00B999514E"
          and error["errors"][0]["codRetour"] == "14" and error["message_en"], error)

    print(f"{PASSED} passed, 0 failed")


if __name__ == "__main__":
    main()
