import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfigFile } from "../adapters/fs/mod.ts";
import { CircuitBreaker, ConfigError, configure, defaultsFor } from "../mod.ts";

describe("loadConfigFile (fs adapter)", () => {
  let dir = "";
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "bulwark-config-"));
  });
  afterEach(async () => {
    configure({});
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  });

  it("applies the file's defaults, and constructor options still win", async () => {
    const path = join(dir, "bulwark.config.json");
    await writeFile(path, JSON.stringify({ circuitBreaker: { maxFailures: 2, resetTimeoutMs: 5_000 } }));
    const applied = await loadConfigFile(path);
    expect(applied).toEqual({ circuitBreaker: { maxFailures: 2, resetTimeoutMs: 5_000 } });
    expect(defaultsFor("circuitBreaker").maxFailures).toBe(2);
    const fromFile = new CircuitBreaker();
    const explicit = new CircuitBreaker({ maxFailures: 9 });
    expect(fromFile.options.maxFailures).toBe(2);
    expect(fromFile.options.resetTimeoutMs).toBe(5_000);
    expect(explicit.options.maxFailures).toBe(9);
  });

  it("names the file and every bad field, and keeps the current defaults", async () => {
    configure({ retry: { maxAttempts: 4 } });
    const path = join(dir, "bad.json");
    await writeFile(path, JSON.stringify({ retry: { maxAttempts: 0 }, rateLimiter: { rat: 5 } }));
    const error = await loadConfigFile(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).target).toBe(path);
    expect((error as ConfigError).issues.map((i) => i.field).sort()).toEqual(["rateLimiter.rat", "retry.maxAttempts"]);
    expect((error as ConfigError).message).toContain("did you mean 'rateLimiter.rate'");
    expect(defaultsFor("retry").maxAttempts).toBe(4);
  });

  it("reports invalid JSON as a ConfigError", async () => {
    const path = join(dir, "broken.json");
    await writeFile(path, "{ circuitBreaker: ");
    const error = await loadConfigFile(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues[0]?.allowed).toContain("valid JSON");
  });

  it("returns undefined for a missing optional file, and throws for a required one", async () => {
    const path = join(dir, "missing.json");
    expect(await loadConfigFile(path, { optional: true })).toBeUndefined();
    await expect(loadConfigFile(path)).rejects.toMatchObject({ code: "ENOENT" });
  });
});

describe("loadConfigFile: what a file may hold", () => {
  let dir = "";
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "bulwark-config-"));
  });
  afterEach(async () => {
    configure({});
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  });

  it("accepts a UTF-8 byte-order mark", async () => {
    const path = join(dir, "bom.json");
    await writeFile(path, `\uFEFF${JSON.stringify({ retry: { maxAttempts: 6 } })}`);
    expect(await loadConfigFile(path)).toEqual({ retry: { maxAttempts: 6 } });
    expect(defaultsFor("retry").maxAttempts).toBe(6);
  });

  it("refuses null or an array with a ConfigError naming the file, in our words", async () => {
    for (const content of ["null", "[]", "3"]) {
      const path = join(dir, "not-an-object.json");
      await writeFile(path, content);
      const error = await loadConfigFile(path).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).target).toBe(path);
      expect((error as ConfigError).issues[0]?.field).toBe("(defaults)");
      expect((error as ConfigError).message).toContain("must be an object of defaults");
      expect((error as ConfigError).message).not.toContain("Invalid input");
    }
  });
});
