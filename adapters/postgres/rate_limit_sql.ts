/**
 * The distributed rate limits' transitions (`RATE_LIMIT_TRANSITIONS` in the
 * core) ported to one PL/pgSQL function per table, created by the store's
 * migration: `SELECT <table>_rate_limit(key, kind, input)` is one statement,
 * one round trip. It locks the key's row (`FOR UPDATE`, after inserting an
 * expired placeholder if there is none), reads the time with
 * `clock_timestamp()` once it holds the lock (so the decisions on a key see
 * time move forward in the order they are made), and computes exactly what
 * the TypeScript algorithm computes: the same arithmetic in the same order
 * on `double precision`, state and reply written as JSON with every digit
 * (`extra_float_digits = 3`). A refusal writes nothing.
 *
 * @module
 */
import { RATE_LIMIT_TRANSITION_NAMES } from "../../src/rate_limit/transition_names.ts";

/** The kind the function takes, by transition name. */
export const RATE_LIMIT_SQL_KINDS: ReadonlyMap<string, string> = /* @__PURE__ */ new Map(
  Object.entries(RATE_LIMIT_TRANSITION_NAMES).map(([kind, name]) => [name, kind]),
);

/**
 * `CREATE OR REPLACE FUNCTION <fn>(p_key text, p_kind text, p_input text,
 * p_now double precision DEFAULT NULL) RETURNS text` over table `t` (quoted)
 * and its version sequence `sequence` (quoted). `p_now` replaces the
 * server's time; only the tests pass it (to compare with TypeScript).
 */
export function rateLimitFunction(fn: string, t: string, sequence: string): string {
  const pw = (x: string) => `CASE WHEN ${x} > 1e-6 THEN ${x} ELSE 1e-6::float8 END`;
  const pos = (x: string) => `CASE WHEN ${x} > 0 THEN ${x} ELSE 0::float8 END`;
  return `CREATE OR REPLACE FUNCTION ${fn}(p_key text, p_kind text, p_input text, p_now double precision DEFAULT NULL)
RETURNS text LANGUAGE plpgsql SET extra_float_digits = 3 AS $fn$
DECLARE
  input jsonb := p_input::jsonb;
  raw text; expires bigint; state jsonb; now float8;
  cost float8 := (input->>'c')::float8;
  allowed boolean; remaining float8; wait float8 := 0; reset float8 := 0; nxt text;
  lim float8; win float8; rate float8; per float8; burst float8; intv float8;
  w float8; sw float8; sp float8; sc float8; cnt float8; prev float8; cur float8; share float8; ps float8; est float8;
  nw float8; np float8; nc float8; due float8; ending float8;
  anchor float8; consumed float8; elapsed float8; refilled float8; deficit float8; na float8; nref float8;
  tat float8; ahead float8; excess float8; ntat float8; a float8;
  live float8[] := ARRAY[]::float8[]; head int; size int; cap int; slot int; n int; m int; t float8; cutoff float8;
BEGIN
  INSERT INTO ${t} (key, value, version, expires_at) VALUES (p_key, 'null', nextval('${sequence}'), 0) ON CONFLICT (key) DO NOTHING;
  SELECT value, expires_at INTO raw, expires FROM ${t} WHERE key = p_key FOR UPDATE;
  now := coalesce(p_now, floor(extract(epoch from clock_timestamp()) * 1000)::float8);
  IF expires IS NOT NULL AND expires <= now THEN state := NULL; ELSE state := raw::jsonb; END IF;
  IF state IS NOT NULL AND jsonb_typeof(state) <> 'object' THEN state := NULL; END IF;
  IF p_kind = 'fixed-window' THEN
    lim := (input->>'l')::float8; win := (input->>'w')::float8;
    w := floor(now / win); sw := w; sc := 0;
    IF state IS NOT NULL THEN sw := (state->>'window')::float8; sc := (state->>'count')::float8; END IF;
    cnt := CASE WHEN w = sw THEN sc ELSE 0 END;
    IF cnt + cost <= lim THEN
      nc := cnt + cost; remaining := lim - nc; reset := (w + 1) * win - now;
      nxt := '{"window":' || w::text || ',"count":' || nc::text || '}';
    ELSE
      wait := CASE WHEN cost > lim THEN -1 ELSE ${pw("((w + 1) * win - now)")} END;
      remaining := CASE WHEN w = sw THEN lim - sc ELSE lim END;
      reset := CASE WHEN sc <> 0 AND w = sw THEN (sw + 1) * win - now ELSE 0 END;
    END IF;
  ELSIF p_kind = 'token-bucket' THEN
    rate := (input->>'r')::float8; per := (input->>'p')::float8; burst := (input->>'b')::float8;
    anchor := now; consumed := 0;
    IF state IS NOT NULL THEN anchor := (state->>'anchorMs')::float8; consumed := (state->>'consumed')::float8; END IF;
    elapsed := now - anchor; refilled := (elapsed * rate) / per;
    na := anchor; nc := consumed;
    IF refilled >= consumed THEN
      IF cost > burst THEN wait := -1; ELSE na := now; nc := cost; END IF;
    ELSE
      deficit := consumed + cost - burst;
      IF deficit <= refilled THEN nc := consumed + cost;
      ELSIF cost > burst THEN wait := -1;
      ELSE wait := ${pw("((deficit * per) / rate - elapsed)")};
      END IF;
    END IF;
    nref := ((now - na) * rate) / per;
    remaining := CASE WHEN nref < nc THEN burst - nc + nref ELSE burst END;
    reset := ${pos("((nc * per) / rate - (now - na))")};
    nxt := '{"anchorMs":' || na::text || ',"consumed":' || nc::text || '}';
  ELSIF p_kind = 'gcra' THEN
    rate := (input->>'r')::float8; per := (input->>'p')::float8; burst := (input->>'b')::float8;
    intv := per / rate; ps := (now * rate) / per; tat := ps;
    IF state IS NOT NULL THEN tat := (state->>'tat')::float8; END IF;
    ahead := CASE WHEN tat > ps THEN tat - ps ELSE 0 END;
    excess := ahead + cost - burst; ntat := tat;
    IF excess <= (ps + burst) * (4 * power(2::float8, -52)) THEN
      ntat := (CASE WHEN ahead > 0 THEN tat ELSE ps END) + cost;
    ELSIF cost > burst THEN wait := -1;
    ELSE wait := ${pw("(excess * intv)")};
    END IF;
    a := ntat - (now * rate) / per;
    remaining := CASE WHEN a > 0 THEN burst - a ELSE burst END;
    reset := CASE WHEN a > 0 THEN a * intv ELSE 0 END;
    nxt := '{"tat":' || ntat::text || '}';
  ELSIF p_kind = 'sliding-window-counter' THEN
    lim := (input->>'l')::float8; win := (input->>'w')::float8;
    ps := now / win; w := floor(ps); sw := w; sp := 0; sc := 0;
    IF state IS NOT NULL THEN
      sw := (state->>'window')::float8; sp := (state->>'previous')::float8; sc := (state->>'current')::float8;
    END IF;
    prev := 0; cur := 0;
    IF w = sw THEN prev := sp; cur := sc; ELSIF w = sw + 1 THEN prev := sc; END IF;
    share := 1 - (ps - w);
    nw := sw; np := sp; nc := sc;
    IF prev * share + cur + cost <= lim THEN nw := w; np := prev; nc := cur + cost;
    ELSIF cost > lim THEN wait := -1;
    ELSE
      IF cur + cost > lim THEN due := (w + 1 + 1 - (lim - cost) / cur) * win;
      ELSE due := (w + 1 - (lim - cost - cur) / prev) * win;
      END IF;
      wait := ${pw("(due - now)")};
    END IF;
    est := 0;
    IF w = nw THEN est := np * (1 - (ps - w)) + nc; ELSIF w = nw + 1 THEN est := nc * (1 - (ps - w)); END IF;
    remaining := ${pos("(lim - est)")};
    ending := now;
    IF nc > 0 THEN ending := (nw + 2) * win; ELSIF np > 0 THEN ending := (nw + 1) * win; END IF;
    reset := ${pos("(ending - now)")};
    nxt := '{"window":' || nw::text || ',"previous":' || np::text || ',"current":' || nc::text || '}';
  ELSIF p_kind = 'sliding-window' THEN
    lim := (input->>'l')::float8; win := (input->>'w')::float8; cutoff := now - win;
    IF state IS NOT NULL AND jsonb_typeof(state->'times') = 'array' THEN
      cap := jsonb_array_length(state->'times'); head := (state->>'head')::int; size := (state->>'size')::int;
      FOR i IN 0 .. size - 1 LOOP
        slot := head + i;
        IF slot >= cap THEN slot := slot - cap; END IF;
        t := (state->'times'->>slot)::float8;
        IF t > cutoff THEN live := live || t; END IF;
      END LOOP;
    END IF;
    n := coalesce(array_length(live, 1), 0);
    IF n + cost <= lim THEN
      FOR i IN 1 .. cost::int LOOP live := live || now; END LOOP;
    ELSIF cost > lim THEN wait := -1;
    ELSE wait := ${pw("(live[n + cost::int - lim::int] + win - now)")};
    END IF;
    m := coalesce(array_length(live, 1), 0);
    IF m > 0 THEN reset := ${pos("(live[m] + win - now)")}; END IF;
    remaining := CASE WHEN wait = 0 THEN lim - m ELSE lim - n END;
    nxt := '{"times":[' || array_to_string(live, ',') || '],"head":0,"size":' || m::text || '}';
  ELSE
    RAISE EXCEPTION 'unknown rate-limit kind %', p_kind;
  END IF;
  allowed := wait = 0;
  IF allowed THEN
    UPDATE ${t} SET value = nxt, version = nextval('${sequence}'),
      expires_at = now::bigint + greatest(1, ceil(reset))::bigint WHERE key = p_key;
  END IF;
  RETURN '{"a":' || CASE WHEN allowed THEN 'true' ELSE 'false' END || ',"r":' || remaining::text ||
    ',"t":' || wait::text || ',"s":' || reset::text || '}';
END
$fn$`;
}
