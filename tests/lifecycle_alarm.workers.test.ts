// An alarm-driven Heartbeat inside a real Durable Object (workerd): Workers
// have no long-lived loop, so the object's alarm drives the beat and re-arms
// itself; the beat lands in Workers KV, where another process checks it.
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { Heartbeat } from "../mod.ts";
import { KvStore } from "../adapters/cloudflare/mod.ts";

interface HeartbeatStub {
  begin(): Promise<void>;
  status(): Promise<{ beats: number; alarm: number | null }>;
}

describe("Heartbeat in a Durable Object", () => {
  it("beats on begin(), re-arms its alarm intervalMs ahead, and beats again when the alarm runs", async () => {
    const stub = env.HEARTBEAT_OBJECTS.get(env.HEARTBEAT_OBJECTS.idFromName("alarm-beat")) as unknown as HeartbeatStub;
    const before = Date.now();
    await stub.begin();
    const first = await stub.status();
    expect(first.beats).toBe(1);
    expect(first.alarm).not.toBeNull();
    expect(first.alarm!).toBeGreaterThanOrEqual(before + 10_000);
    const kv = new KvStore(env.STATE_KV);
    const state = await Heartbeat.readState(kv, { key: "heartbeat:object" });
    expect(state?.metadata).toEqual({ role: "alarm" });
    expect(await Heartbeat.isAlive(kv, 30_000, { key: "heartbeat:object" })).toBe(true);

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const second = await stub.status();
    expect(second.beats).toBe(2);
    expect(second.alarm).not.toBeNull();
    expect(second.alarm!).toBeGreaterThanOrEqual(first.alarm!);
  });
});
