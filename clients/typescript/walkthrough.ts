// The walkthrough of docs/AGENT.md from TypeScript, through a client generated from
// docs/agent-openapi.json: openapi-typescript writes the types (generated/agent.d.ts) and
// openapi-fetch makes the calls, so a change of the document that breaks a client fails the type
// check before anything runs.
//
//     node generated/out/walkthrough.js http://127.0.0.1:PORT /path/to/pos.db.agent-token
//
// Prints `ok: <step>` for each step and ends with `N passed, 0 failed`; exits non-zero at the
// first step that does not behave as documented. `cargo xtask clients` runs it against a fresh
// agent and a local authority.

import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";

import createClient from "openapi-fetch";

import type { components, paths } from "./generated/agent.js";

type ApiError = components["schemas"]["ApiError"];
type SignRequest = components["schemas"]["SignRequest"];

let passed = 0;

/** Records a step that behaved as documented, or stops at the first one that did not. */
function check(what: string, condition: boolean, detail: unknown): void {
  if (!condition) {
    console.log(`FAILED: ${what}: ${JSON.stringify(detail)}`);
    console.log(`${passed} passed, 1 failed`);
    process.exit(1);
  }
  passed += 1;
  console.log(`ok: ${what}`);
}

/** What a body says: its members that are neither null nor empty lists. */
function said(body: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(body).filter(([, value]) => value !== null && !(Array.isArray(value) && value.length === 0)),
  );
}

/** Whether a call failed with `status` and an ApiError of this `kind`, in both languages. */
function failed(response: Response, error: ApiError | undefined, status: number, kind: ApiError["kind"]): boolean {
  return (
    response.status === status &&
    error !== undefined &&
    error.kind === kind &&
    error.message_fr.length > 0 &&
    error.message_en.length > 0
  );
}

async function main(): Promise<void> {
  const [url, tokenFile] = process.argv.slice(2);
  if (url === undefined || tokenFile === undefined) {
    console.log("usage: node walkthrough.js AGENT_URL TOKEN_FILE");
    process.exit(2);
  }
  const token = readFileSync(tokenFile, "ascii").trim();
  // No call waits more than 30 s for its answer.
  const timed = (request: Request) => fetch(request, { signal: AbortSignal.timeout(30_000) });
  const agent = createClient<paths>({ baseUrl: url, fetch: timed, headers: { Authorization: `Bearer ${token}` } });
  const anonymous = createClient<paths>({ baseUrl: url, fetch: timed });
  const impostor = createClient<paths>({
    baseUrl: url,
    fetch: timed,
    headers: { Authorization: `Bearer ${"0".repeat(64)}` },
  });

  // a. Is the agent up? Health needs no token, and then says only that.
  {
    const { data, response } = await anonymous.GET("/v1/health");
    check(
      "health without the token",
      response.status === 200 && data !== undefined && JSON.stringify(said(data)) === JSON.stringify({ status: "ok" }),
      data,
    );
  }
  // Every other call needs the token.
  {
    const { error, response } = await anonymous.GET("/v1/certificates");
    check("no token: 401 unauthorized", failed(response, error, 401, "unauthorized"), error);
  }
  {
    const { error, response } = await impostor.GET("/v1/certificates");
    check("a wrong token: 401 unauthorized", failed(response, error, 401, "unauthorized"), error);
  }

  // b. A first certificate: the device-identifier question comes first.
  const nickname = "Caisse du bar";
  const enrolment: components["schemas"]["EnrolmentRequest"] = {
    identification_number: "5678912340",
    authorization_code: "D8T8-W8W8",
    sector: "RBC",
    qst: "5678912340TQ0001",
    file_number: "ER0001",
    nickname,
  };
  {
    const { error, response } = await agent.POST("/v1/enrolments", { body: enrolment });
    check("the device-identifier question", failed(response, error, 409, "device_id_question"), error);
  }
  const { data: enrolled, response: enrolledResponse } = await agent.POST("/v1/enrolments", {
    body: { ...enrolment, device_id_answer: { answer: "request_new" } },
  });
  check(
    "enrolment with a new device identifier",
    enrolledResponse.status === 201 &&
      enrolled !== undefined &&
      /^\d{4}-\d{4}-\d{4}$/.test(enrolled.device_id ?? "") &&
      enrolled.certificate.health === "valid" &&
      enrolled.certificate.usable,
    enrolled,
  );
  if (enrolled === undefined) return;
  const deviceId = enrolled.device_id;

  // c. The certificates and the device identifier.
  {
    const { data, response } = await agent.GET("/v1/certificates");
    check(
      "certificates",
      response.status === 200 &&
        data !== undefined &&
        data.certificates.length === 1 &&
        data.certificates[0]?.nickname === nickname &&
        data.certificates[0]?.serial === enrolled.certificate.serial,
      data,
    );
  }
  {
    const { data, response } = await agent.GET("/v1/device-id");
    check("device identifier", response.status === 200 && data?.device_id === deviceId, data);
  }

  // d. Before each bill.
  {
    const { data, response } = await agent.GET("/v1/billing-guard", {
      params: { query: { identification_number: "5678912340" } },
    });
    check("billing guard: allowed", response.status === 200 && data?.allowed === true, data);
  }

  // e. Signatures, sent again with the same Idempotency-Key as a till does after a lost answer.
  const transaction = (noTrans: string): SignRequest => ({
    identification_number: "5678912340",
    noTrans,
    datTrans: "20261201120000",
    TPS: "+0000000000.13",
    TVQ: "+0000000000.26",
    apresTax: "+0000000002.39",
    noTPS: "567891234RT0001",
    modImpr: "FAC",
    modTrans: "CMP",
  });
  const sign = (key: string, body: SignRequest) =>
    agent.POST("/v1/signatures", { params: { header: { "Idempotency-Key": key } }, body });
  const firstKey = randomUUID();
  const { data: first, response: firstResponse } = await sign(firstKey, transaction("0000000001"));
  check(
    "signature 1",
    firstResponse.status === 200 && first !== undefined && first.position === 1 && first.preced === "=".repeat(88),
    first,
  );
  if (first === undefined) return;
  {
    const { data, response } = await sign(firstKey, transaction("0000000001"));
    check(
      "the same key and body again: the same link",
      response.status === 200 && JSON.stringify(data) === JSON.stringify(first),
      data,
    );
  }
  {
    const { error, response } = await sign(firstKey, transaction("0000000002"));
    check("the same key, another body: 422 idempotency_conflict", failed(response, error, 422, "idempotency_conflict"), error);
  }
  {
    const { data, response } = await sign(randomUUID(), transaction("0000000002"));
    check(
      "signature 2 follows signature 1",
      response.status === 200 && data?.position === 2 && data.preced === first.actu,
      data,
    );
  }

  // f. Replace, with the user's confirmation only.
  const path = { nickname };
  {
    const { error, response } = await agent.POST("/v1/certificates/{nickname}/replace", {
      params: { path },
      body: { confirm: false },
    });
    check("a replacement needs the confirmation", failed(response, error, 422, "not_confirmed"), error);
  }
  {
    const { data, response } = await agent.POST("/v1/certificates/{nickname}/replace", {
      params: { path },
      body: { confirm: true },
    });
    check(
      "replacement",
      response.status === 200 && data !== undefined && data.serial !== enrolled.certificate.serial && data.usable,
      data,
    );
  }

  // g. Delete, with the user's confirmation; the device keeps its identifier.
  {
    const { data, response } = await agent.POST("/v1/certificates/{nickname}/delete", {
      params: { path },
      body: { confirm: true },
    });
    check(
      "deletion",
      response.status === 200 &&
        data !== undefined &&
        data.device_id === deviceId &&
        data.certificates.every((c) => c.nickname !== nickname || !c.usable),
      data,
    );
  }
  {
    const { data, response } = await agent.GET("/v1/device-id");
    check("the device keeps its identifier", response.status === 200 && data?.device_id === deviceId, data);
  }

  console.log(`${passed} passed, 0 failed`);
}

main().catch((error: unknown) => {
  console.log(`FAILED: ${String(error)}`);
  console.log(`${passed} passed, 1 failed`);
  process.exit(1);
});
