-- Features and subscriptions: has_feature, enabled_features, subscription_active (API.md).
local leadconduit = require "leadconduit"
local null, array_mt = leadconduit.null, leadconduit.array_mt

local DOCUMENTED = {
  "seller_access", "buyer_access", "lead_transactions", "conversion_feedback", "firehose",
  "third_party_add_on_services", "real_time_bidding", "leadconduit_trustedform_decisions",
}

local function account()
  return {
    features = {
      seller_access = true,
      buyer_access = false,
      firehose = true,
      real_time_bidding = null,
      conversion_feedback = "true",
      lead_transactions = 1,
      brand_new_flag = true,
      beta_off = false,
    },
    subscriptions = {
      base = { state = "active" },
      pro = { state = "inactive" },
      partner = { state = null },
      odd = "active",
      upper = { state = "ACTIVE" },
    },
  }
end

describe("has_feature", function()
  it("is true only for features whose value is exactly true", function()
    local a = account()
    assert.is_true(leadconduit.has_feature(a, "seller_access"))
    assert.is_true(leadconduit.has_feature(a, "firehose"))
    assert.is_false(leadconduit.has_feature(a, "buyer_access"))
    assert.is_false(leadconduit.has_feature(a, "real_time_bidding"))   -- null
    assert.is_false(leadconduit.has_feature(a, "conversion_feedback")) -- the string "true"
    assert.is_false(leadconduit.has_feature(a, "lead_transactions"))   -- 1
  end)

  it("is false for a documented feature the account does not list", function()
    assert.is_false(leadconduit.has_feature(account(), "third_party_add_on_services"))
    assert.is_false(leadconduit.has_feature(account(), "leadconduit_trustedform_decisions"))
  end)

  it("answers for undocumented names the account does list", function()
    assert.is_true(leadconduit.has_feature(account(), "brand_new_flag"))
    assert.is_false(leadconduit.has_feature(account(), "beta_off"))
  end)

  it("raises on a misspelt feature name instead of reading it as disabled", function()
    local ok, err = pcall(leadconduit.has_feature, account(), "firehoze")
    assert.is_false(ok)
    assert.matches('unknown feature "firehoze"', err, 1, true)
    assert.has_error(function() leadconduit.has_feature(account(), "Firehose") end)
    assert.has_error(function() leadconduit.has_feature(account(), "") end)
  end)

  it("is false for every documented name when features are missing or null", function()
    for _, a in ipairs({ {}, { features = null }, { features = "nope" } }) do
      for _, name in ipairs(DOCUMENTED) do
        assert.is_false(leadconduit.has_feature(a, name))
      end
      assert.has_error(function() leadconduit.has_feature(a, "firehoze") end)
    end
  end)

  it("raises on bad arguments", function()
    assert.has_error(function() leadconduit.has_feature(nil, "firehose") end)
    assert.has_error(function() leadconduit.has_feature(null, "firehose") end)
    assert.has_error(function() leadconduit.has_feature("account", "firehose") end)
    assert.has_error(function() leadconduit.has_feature(account(), nil) end)
    assert.has_error(function() leadconduit.has_feature(account(), 1) end)
  end)
end)

describe("enabled_features", function()
  it("lists the names whose value is true, sorted", function()
    local names = leadconduit.enabled_features(account())
    assert.same({ "brand_new_flag", "firehose", "seller_access" }, names)
    assert.equal(array_mt, getmetatable(names))
  end)

  it("returns every documented name, sorted, when all are on", function()
    local features = {}
    for _, n in ipairs(DOCUMENTED) do features[n] = true end
    local expected = {}
    for i, n in ipairs(DOCUMENTED) do expected[i] = n end
    table.sort(expected)
    assert.same(expected, leadconduit.enabled_features({ features = features }))
  end)

  it("returns an empty array (with array_mt) when features are missing, null or all off", function()
    for _, a in ipairs({ {}, { features = null }, { features = { firehose = false } } }) do
      local names = leadconduit.enabled_features(a)
      assert.same({}, names)
      assert.equal(array_mt, getmetatable(names))
    end
  end)

  it("raises on bad arguments", function()
    assert.has_error(function() leadconduit.enabled_features(nil) end)
    assert.has_error(function() leadconduit.enabled_features(null) end)
  end)
end)

describe("subscription_active", function()
  it("is true only when the subscription's state is \"active\"", function()
    local a = account()
    assert.is_true(leadconduit.subscription_active(a, "base"))
    assert.is_false(leadconduit.subscription_active(a, "pro"))
    assert.is_false(leadconduit.subscription_active(a, "partner"))
    assert.is_false(leadconduit.subscription_active(a, "odd"))
    assert.is_false(leadconduit.subscription_active(a, "upper"))
  end)

  it("is false when subscriptions are missing or null", function()
    for _, a in ipairs({ {}, { subscriptions = null }, { subscriptions = "nope" } }) do
      for _, name in ipairs({ "base", "pro", "partner" }) do
        assert.is_false(leadconduit.subscription_active(a, name))
      end
    end
  end)

  it("raises on a misspelt subscription name instead of reading it as inactive", function()
    -- API.md "Additions in 0.3": neither documented nor a key of account.subscriptions.
    for _, a in ipairs({ account(), {}, { subscriptions = null } }) do
      for _, typo in ipairs({ "partnr", "Pro", "", "missing" }) do
        local ok, err = pcall(leadconduit.subscription_active, a, typo)
        assert.is_false(ok, typo)
        assert.equal(('leadconduit.subscription_active: unknown subscription %q'):format(typo),
          (tostring(err):gsub("^[^:]+:%d+: ", "")))
      end
    end
    -- a name the account carries is known, documented or not
    assert.is_false(leadconduit.subscription_active(account(), "odd"))
    assert.is_false(leadconduit.subscription_active({ subscriptions = { enterprise = {} } }, "enterprise"))
    assert.is_true(leadconduit.subscription_active({ subscriptions = { enterprise = { state = "active" } } },
      "enterprise"))
  end)

  it("raises on bad arguments", function()
    assert.has_error(function() leadconduit.subscription_active(nil, "base") end)
    assert.has_error(function() leadconduit.subscription_active(account(), nil) end)
  end)
end)
