"""BigStock's own API scenarios for ../shared/anchors/http/load.py (the real app, not the floor).

``bench/stock_feed.py`` runs them; by hand, load.py must import this module rather than the
anchors' file of the same name, so preload it::

    .venv/bin/python -c "import sys, runpy; sys.path.insert(0, 'bench'); import bigstock_scenarios; \\
        sys.argv = ['load.py', '--scenario', 'bigstock_scenarios:read_feed', '--param', 'keys_file=/tmp/keys']; \\
        runpy.run_path('../shared/anchors/http/load.py', run_name='__main__')"

Params (--param key=value): keys_file (API keys, one per line: one per simulated partner
system, picked at random per request), starts_file (where the page starts found by walking the
feed once are kept for the next runs), prefetch_etags (1: learn every page's ETag in the setup,
for read_feed_304), since (a change cursor, for read_delta), delta_rows (rows read_delta
expects, default 500).

  read_feed      GET /api/v1/stock?limit=100&cursor=...   one keyset page of 100 at a random place
  read_feed_304  the same page with the ETag of the previous answer: 304 while nothing changed
  read_delta     GET /api/v1/stock?changes_since=<since>&limit=1000   what changed since a cursor
"""

import os
import random


async def setup(session, ctx):
    """Read the keys, then walk the feed once to learn where every page starts (the ``next``
    links): a client cannot build a cursor, it follows them, and so do these scenarios."""
    params = ctx["params"]
    with open(params["keys_file"]) as fh:
        ctx["keys"] = [line.strip() for line in fh if line.strip()]
    session.headers.update({"Accept": "application/json"})
    cache = params.get("starts_file")
    if cache and os.path.exists(cache):
        with open(cache) as fh:
            ctx["starts"] = fh.read().split()
    else:
        starts, url = [], f"{ctx['base']}/api/v1/stock?limit=100"
        while url:
            async with session.get(url, headers=_auth(ctx, random)) as response:
                body = await response.json()
            url = body["next"]
            if url:
                starts.append(url.removeprefix(ctx["base"]))
        ctx["starts"] = starts
        if cache:
            with open(cache, "w") as fh:
                fh.write("\n".join(starts))
    ctx["etags"] = {}
    if params.get("prefetch_etags"):  # read_feed_304: learn every page's ETag before measuring
        for url in ctx["starts"]:
            async with session.get(ctx["base"] + url, headers=_auth(ctx, random)) as response:
                await response.read()
                ctx["etags"][url] = response.headers["ETag"]
    ctx["delta_url"] = f"/api/v1/stock?changes_since={params.get('since', '0')}&limit=1000"
    ctx["delta_rows"] = int(params.get("delta_rows", 500))


def _auth(ctx, rng) -> dict:
    return {"Authorization": f"Bearer {rng.choice(ctx['keys'])}"}


async def read_feed(session, ctx, rng, rec):
    data = await rec.request(session, "GET", rng.choice(ctx["starts"]), name="GET /stock page", headers=_auth(ctx, rng))
    if len(data["results"]) != 100:
        raise RuntimeError("short page")


async def read_feed_304(session, ctx, rng, rec):
    url = rng.choice(ctx["starts"])
    if url not in ctx["etags"]:  # first time on this page (during the warm-up): learn its ETag
        async with session.get(ctx["base"] + url, headers=_auth(ctx, rng)) as response:
            await response.read()
            ctx["etags"][url] = response.headers["ETag"]
    await rec.request(session, "GET", url, name="GET /stock page, If-None-Match", expect=(304,),
                      headers={**_auth(ctx, rng), "If-None-Match": ctx["etags"][url]})


async def read_delta(session, ctx, rng, rec):
    data = await rec.request(session, "GET", ctx["delta_url"], name="GET /stock?changes_since", headers=_auth(ctx, rng))
    if len(data["results"]) != ctx["delta_rows"]:
        raise RuntimeError(f"{len(data['results'])} rows, expected {ctx['delta_rows']}")
