-- Specs for lua/leadconduit/redact.lua: keeping secrets out of every text and answer shown.
local leadconduit = require "leadconduit"
local redact = require "leadconduit.redact"
local mime = require "mime"

describe("redact", function()
  it("builds the Basic credential once: API:<key> in base64", function()
    for _, key in ipairs({ "k", "k3", "k3y", "1f1b96c9150d8050e858c043d543bb4eadae0e6f", "]a1b2~" }) do
      assert.equal("Basic " .. mime.b64("API:" .. key), redact.credential(key))
      assert.same({ key, (mime.b64("API:" .. key)) }, redact.secrets(key))
    end
  end)

  it("replaces every occurrence of every secret", function()
    assert.equal("a [REDACTED] b [REDACTED] c", redact.scrub("a s3cr%t b s3cr%t c", { "s3cr%t" }))
    assert.equal("[REDACTED] and [REDACTED]", redact.scrub("k3y and QVBJOmszeQ==", redact.secrets("k3y")))
    assert.equal("nothing here", redact.scrub("nothing here", { "k3y" }))
    assert.equal("no secrets", redact.scrub("no secrets", nil))
  end)

  it("covers overlapping occurrences whole, leaving no head or tail of a key", function()
    assert.equal("[REDACTED]", redact.scrub("abcabcab", { "abcab" }))
    assert.equal("x[REDACTED]y", redact.scrub("xaaay", { "aa" }))
  end)

  it("never spells a key again with the marker and the text around it", function()
    local key = "]a1b2c3d4e5f6"
    local text = key .. "a1b2c3d4e5f6a1b2c3d4e5f6"
    local out = redact.scrub(text, { key })
    assert.is_nil(out:find(key, 1, true), out)
    assert.equal(" a1b2c3d4e5f6a1b2c3d4e5f6", out)
    -- a key inside the marker itself
    for _, k in ipairs({ "REDACTED", "EDAC", "[RED", "ED]" }) do
      out = redact.scrub("x" .. k .. "y " .. k, { k })
      assert.is_nil(out:find(k, 1, true), k .. " -> " .. out)
    end
  end)

  it("knows the account's secret fields: api_key and *_api_key", function()
    for _, name in ipairs({ "api_key", "keen_read_api_key", "keen_write_api_key", "x_api_key" }) do
      assert.is_true(redact.is_secret_field(name), name)
    end
    for _, name in ipairs({ "api_keys", "apikey", "key", "api_key_id", 1 }) do
      assert.is_false(redact.is_secret_field(name), tostring(name))
    end
  end)

  it("hides secret fields and scrubs secrets from every string of a decoded answer", function()
    local answer = assert(leadconduit.decode([[{"success":true,"account":{"api_key":"k3y-secret",
      "keen_read_api_key":"r","keen_write_api_key":null,"name":"said k3y-secret twice: k3y-secret",
      "pending_sellers":[{"id":"a","note":"k3y-secret"}],"empty":[]}}]]))
    local shown = redact.fields(answer, { "k3y-secret" })
    assert.equal(redact.HIDDEN, shown.account.api_key)
    assert.equal(redact.HIDDEN, shown.account.keen_read_api_key)
    assert.equal(redact.HIDDEN, shown.account.keen_write_api_key) -- null too: a value is a value
    local tables = redact.fields(assert(leadconduit.decode(
      '{"api_key":["k3y-secret"],"x_api_key":{"v":"s1"},"y_api_key":[]}')), {})
    assert.same({ redact.HIDDEN, redact.HIDDEN, redact.HIDDEN },
      { tables.api_key, tables.x_api_key, tables.y_api_key })
    assert.equal("said [REDACTED] twice: [REDACTED]", shown.account.name)
    assert.equal("[REDACTED]", shown.account.pending_sellers[1].note)
    assert.equal(leadconduit.array_mt, getmetatable(shown.account.pending_sellers))
    assert.equal(leadconduit.array_mt, getmetatable(shown.account.empty))
    assert.equal("k3y-secret", answer.account.api_key, "the original is left as it was")
    assert.is_nil(leadconduit.encode(shown):find("k3y-secret", 1, true))
  end)

  it("scrubs a secret from object keys too, in a copy that loses no entry", function()
    local key = "k3y-secret"
    local answer = assert(leadconduit.decode(([[{"account":{"partners":{"KEY":{"KEY":"v","n":1},
      "xKEYy":2,"[REDACTED]":3,"list":[{"KEY":4}]}}}]]):gsub("KEY", key), nil))
    local shown = redact.fields(answer, redact.secrets(key))
    local text = leadconduit.encode(shown)
    assert.is_nil(text:find(key, 1, true), text)
    local partners = shown.account.partners
    assert.equal(2, partners["x" .. redact.MARK .. "y"])
    assert.same({ [redact.MARK] = 4 }, partners.list[1])
    -- "[REDACTED]" was a key already: the scrubbed key takes the next free name, none is lost
    local n = 0
    for _ in pairs(partners) do n = n + 1 end
    assert.equal(4, n)
    assert.equal(3, partners[redact.MARK])
    assert.same({ n = 1, [redact.MARK] = "v" }, partners[redact.MARK .. "#2"])
    assert.equal(1, answer.account.partners[key].n, "the original is left as it was")
  end)
end)
