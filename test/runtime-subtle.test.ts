// crypto.subtle inside a real isolate, against known-answer vectors, with the
// host's real KeyVault answering the ops: what user code sees, errors included.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RuntimeHarness, runInIsolate } from "./support/runtime-harness.js";

/** In-isolate helpers every test body starts with. */
const PRELUDE = `
  const subtle = crypto.subtle;
  const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const unhex = (text) => new Uint8Array(text.match(/../g).map((pair) => parseInt(pair, 16)));
  const utf8 = (text) => new TextEncoder().encode(text);
  const failure = async (promise) => {
    try { await promise; return "resolved"; } catch (e) { return e.name + (e instanceof DOMException ? "/DOMException" : e instanceof TypeError ? "/TypeError" : ""); }
  };
`;
const inIsolate = (body: string) => runInIsolate(PRELUDE + body);

test("digest: SHA-1/256/384/512 of \"abc\", names as strings or objects in any case, any BufferSource, copied at call time", async () => {
  const seen = await inIsolate(`
    const abc = utf8("abc");
    const out = {
      sha1: hex(await subtle.digest("SHA-1", abc)),
      sha256: hex(await subtle.digest({ name: "sha-256" }, abc)),
      sha384: hex(await subtle.digest("Sha-384", abc.buffer)),
      sha512: hex(await subtle.digest({ name: "SHA-512" }, new DataView(abc.buffer))),
      isArrayBuffer: (await subtle.digest("SHA-256", abc)) instanceof ArrayBuffer,
    };
    const framed = utf8("xxabcxx");
    out.view = hex(await subtle.digest("SHA-256", framed.subarray(2, 5)));
    const mutable = utf8("abc");
    const pending = subtle.digest("SHA-256", mutable);
    mutable.fill(0);
    out.copied = hex(await pending);
    out.empty = hex(await subtle.digest("SHA-256", new ArrayBuffer(0)));
    return out;
  `);
  const sha256abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  assert.deepEqual(seen, {
    sha1: "a9993e364706816aba3e25717850c26c9cd0d89d",
    sha256: sha256abc,
    sha384: "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
    sha512: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    isArrayBuffer: true,
    view: sha256abc,
    copied: sha256abc,
    empty: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  });
});

test("CryptoKey and SubtleCrypto: globals, illegal constructors, cached algorithm and usages, usages in enum order", async () => {
  const seen = await inIsolate(`
    const key = await subtle.importKey("raw", utf8("Jefe"), { name: "hmac", hash: "sha-256" }, true, ["verify", "sign", "verify"]);
    const out = {
      subtle: crypto.subtle === crypto.subtle && crypto.subtle instanceof SubtleCrypto,
      tags: [String(key), String(crypto.subtle)],
      isKey: key instanceof CryptoKey,
      type: key.type,
      extractable: key.extractable,
      algorithm: key.algorithm,
      sameAlgorithm: key.algorithm === key.algorithm,
      usages: key.usages,
      sameUsages: key.usages === key.usages,
      ownKeys: Object.keys(key),
      lengths: ["encrypt", "verify", "digest", "deriveKey", "deriveBits", "importKey", "unwrapKey"].map((m) => subtle[m].length),
    };
    for (const [label, make] of [["newKey", () => new CryptoKey()], ["newSubtle", () => new SubtleCrypto()]]) {
      try { make(); out[label] = "constructed"; } catch (e) { out[label] = e.name; }
    }
    return out;
  `);
  assert.deepEqual(seen, {
    subtle: true,
    tags: ["[object CryptoKey]", "[object SubtleCrypto]"],
    isKey: true,
    type: "secret",
    extractable: true,
    algorithm: { name: "HMAC", hash: { name: "SHA-256" }, length: 32 },
    sameAlgorithm: true,
    usages: ["sign", "verify"],
    sameUsages: true,
    ownKeys: [],
    lengths: [3, 4, 2, 5, 2, 5, 7],
    newKey: "TypeError",
    newSubtle: "TypeError",
  });
});

test("HMAC: RFC 4231 test case 2 for SHA-256 and SHA-512, verify, generated key lengths", async () => {
  const seen = await inIsolate(`
    const data = utf8("what do ya want for nothing?");
    const k256 = await subtle.importKey("raw", utf8("Jefe"), { name: "HMAC", hash: { name: "SHA-256" } }, false, ["sign", "verify"]);
    const k512 = await subtle.importKey("raw", utf8("Jefe"), { name: "HMAC", hash: "SHA-512" }, false, ["sign"]);
    const mac = await subtle.sign("HMAC", k256, data);
    const tampered = new Uint8Array(mac.slice(0)); tampered[0] ^= 1;
    const generated = await subtle.generateKey({ name: "HMAC", hash: "SHA-384" }, true, ["sign"]);
    return {
      sha256: hex(mac),
      sha512: hex(await subtle.sign({ name: "HMAC" }, k512, data)),
      verified: await subtle.verify("HMAC", k256, mac, data),
      tampered: await subtle.verify("HMAC", k256, tampered, data),
      generatedLength: generated.algorithm.length,
      rawLength: (await subtle.exportKey("raw", generated)).byteLength,
    };
  `);
  assert.deepEqual(seen, {
    sha256: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    sha512:
      "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
    verified: true,
    tampered: false,
    generatedLength: 1024,
    rawLength: 128,
  });
});

test("PBKDF2 (RFC 6070, RFC 7914) and HKDF (RFC 5869) deriveBits, and deriveKey into AES-GCM", async () => {
  const seen = await inIsolate(`
    const password = await subtle.importKey("raw", utf8("password"), "PBKDF2", false, ["deriveBits", "deriveKey"]);
    const passwd = await subtle.importKey("raw", utf8("passwd"), { name: "pbkdf2" }, false, ["deriveBits"]);
    const ikm = await subtle.importKey("raw", new Uint8Array(22).fill(0x0b), "HKDF", false, ["deriveBits"]);
    const aes = await subtle.deriveKey(
      { name: "PBKDF2", hash: "SHA-256", salt: utf8("salt"), iterations: 1000 }, password,
      { name: "AES-GCM", length: 256 }, true, ["encrypt", "decrypt"]);
    return {
      sha1c1: hex(await subtle.deriveBits({ name: "PBKDF2", hash: "SHA-1", salt: utf8("salt"), iterations: 1 }, password, 160)),
      sha1c4096: hex(await subtle.deriveBits({ name: "PBKDF2", hash: "SHA-1", salt: utf8("salt"), iterations: 4096 }, password, 160)),
      sha256: hex(await subtle.deriveBits({ name: "PBKDF2", hash: { name: "SHA-256" }, salt: utf8("salt"), iterations: 1 }, passwd, 512)),
      hkdf: hex(await subtle.deriveBits(
        { name: "HKDF", hash: "SHA-256", salt: unhex("000102030405060708090a0b0c"), info: unhex("f0f1f2f3f4f5f6f7f8f9") }, ikm, 42 * 8)),
      derived: [aes.type, aes.algorithm, aes.usages, (await subtle.exportKey("raw", aes)).byteLength],
    };
  `);
  assert.deepEqual(seen, {
    sha1c1: "0c60c80f961f0e71f3a9b524af6012062fe037a6",
    sha1c4096: "4b007901b765489abead49d926f721d065a429c1",
    sha256: "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783",
    hkdf: "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
    derived: ["secret", { name: "AES-GCM", length: 256 }, ["encrypt", "decrypt"], 32],
  });
});

test("AES-GCM round trip with additional data, tampering is an OperationError; AES-CBC and AES-CTR match SP 800-38A; AES-KW matches RFC 3394", async () => {
  const seen = await inIsolate(`
    const key = await subtle.generateKey({ name: "AES-GCM", length: 128 }, false, ["encrypt", "decrypt"]);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const gcm = { name: "AES-GCM", iv, additionalData: utf8("header"), tagLength: 128 };
    const sealed = await subtle.encrypt(gcm, key, utf8("attack at dawn"));
    const opened = new TextDecoder().decode(await subtle.decrypt(gcm, key, sealed));
    const flipped = new Uint8Array(sealed.slice(0)); flipped[3] ^= 0x40;
    const nistKey = unhex("2b7e151628aed2a6abf7158809cf4f3c");
    const block = unhex("6bc1bee22e409f96e93d7e117393172a");
    const cbcKey = await subtle.importKey("raw", nistKey, "AES-CBC", false, ["encrypt", "decrypt"]);
    const cbcIv = unhex("000102030405060708090a0b0c0d0e0f");
    const cbc = await subtle.encrypt({ name: "AES-CBC", iv: cbcIv }, cbcKey, block);
    const ctrKey = await subtle.importKey("raw", nistKey, { name: "AES-CTR" }, false, ["encrypt", "decrypt"]);
    const ctrParams = { name: "AES-CTR", counter: unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"), length: 64 };
    const ctr = await subtle.encrypt(ctrParams, ctrKey, block);
    const kek = await subtle.importKey("raw", unhex("000102030405060708090a0b0c0d0e0f"), "AES-KW", false, ["wrapKey", "unwrapKey"]);
    const keyData = await subtle.importKey("raw", unhex("00112233445566778899aabbccddeeff"), "AES-CBC", true, ["encrypt"]);
    const wrapped = await subtle.wrapKey("raw", keyData, kek, "AES-KW");
    const unwrapped = await subtle.unwrapKey("raw", wrapped, kek, "AES-KW", "AES-CBC", true, ["decrypt"]);
    return {
      opened,
      sealedLength: sealed.byteLength,
      tampered: await failure(subtle.decrypt(gcm, key, flipped)),
      wrongAad: await failure(subtle.decrypt({ ...gcm, additionalData: utf8("other") }, key, sealed)),
      stillOpens: new TextDecoder().decode(await subtle.decrypt(gcm, key, sealed)),
      cbcFirstBlock: hex(cbc).slice(0, 32),
      cbcLength: cbc.byteLength,
      cbcBack: hex(await subtle.decrypt({ name: "AES-CBC", iv: cbcIv }, cbcKey, cbc)),
      ctr: hex(ctr),
      ctrBack: hex(await subtle.decrypt(ctrParams, ctrKey, ctr)),
      wrapped: hex(wrapped),
      unwrapped: [hex(await subtle.exportKey("raw", unwrapped)), unwrapped.usages, unwrapped.algorithm],
    };
  `);
  assert.deepEqual(seen, {
    opened: "attack at dawn",
    sealedLength: 14 + 16,
    tampered: "OperationError/DOMException",
    wrongAad: "OperationError/DOMException",
    stillOpens: "attack at dawn",
    cbcFirstBlock: "7649abac8119b246cee98e9b12e9197d",
    cbcLength: 32,
    cbcBack: "6bc1bee22e409f96e93d7e117393172a",
    ctr: "874d6191b620e3261bef6864990db6ce",
    ctrBack: "6bc1bee22e409f96e93d7e117393172a",
    wrapped: "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5",
    unwrapped: ["00112233445566778899aabbccddeeff", ["decrypt"], { name: "AES-CBC", length: 128 }],
  });
});

test("ECDSA P-256/P-384, Ed25519 (RFC 8032 vector) sign and verify; key pairs have the right types and usages", async () => {
  const seen = await inIsolate(`
    const out = {};
    const message = utf8("signed message");
    for (const [curve, hash, size] of [["P-256", "SHA-256", 64], ["P-384", "SHA-384", 96]]) {
      const pair = await subtle.generateKey({ name: "ECDSA", namedCurve: curve }, false, ["sign", "verify"]);
      const signature = await subtle.sign({ name: "ECDSA", hash }, pair.privateKey, message);
      out[curve] = {
        pair: [pair.publicKey.type, pair.publicKey.usages, pair.publicKey.extractable, pair.privateKey.type, pair.privateKey.usages, pair.privateKey.algorithm],
        size: signature.byteLength,
        verified: await subtle.verify({ name: "ECDSA", hash }, pair.publicKey, signature, message),
        otherMessage: await subtle.verify({ name: "ECDSA", hash }, pair.publicKey, signature, utf8("another message")),
      };
    }
    const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
    const d = unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    const x = unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    const privateKey = await subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", d: b64url(d), x: b64url(x) }, "Ed25519", false, ["sign"]);
    const publicKey = await subtle.importKey("raw", x, { name: "ed25519" }, true, ["verify"]);
    const signature = await subtle.sign("Ed25519", privateKey, new Uint8Array(0));
    out.ed25519 = {
      signature: hex(signature),
      verified: await subtle.verify("Ed25519", publicKey, signature, new Uint8Array(0)),
      generated: (await subtle.generateKey("Ed25519", true, ["sign", "verify"])).privateKey.algorithm,
    };
    return out;
  `);
  assert.deepEqual(seen, {
    "P-256": {
      pair: ["public", ["verify"], true, "private", ["sign"], { name: "ECDSA", namedCurve: "P-256" }],
      size: 64,
      verified: true,
      otherMessage: false,
    },
    "P-384": {
      pair: ["public", ["verify"], true, "private", ["sign"], { name: "ECDSA", namedCurve: "P-384" }],
      size: 96,
      verified: true,
      otherMessage: false,
    },
    ed25519: {
      signature:
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
      verified: true,
      generated: { name: "Ed25519" },
    },
  });
});

test("RSASSA-PKCS1-v1_5, RSA-PSS and RSA-OAEP with 2048-bit keys; the key algorithm carries publicExponent as bytes", async () => {
  const seen = await inIsolate(`
    const params = (name) => ({ name, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" });
    const message = utf8("sign me");
    const pkcs1 = await subtle.generateKey(params("RSASSA-PKCS1-v1_5"), false, ["sign", "verify"]);
    const pkcs1Signature = await subtle.sign("RSASSA-PKCS1-v1_5", pkcs1.privateKey, message);
    const pss = await subtle.generateKey(params("RSA-PSS"), false, ["sign", "verify"]);
    const pssSignature = await subtle.sign({ name: "RSA-PSS", saltLength: 32 }, pss.privateKey, message);
    const oaep = await subtle.generateKey(params("RSA-OAEP"), false, ["encrypt", "decrypt", "wrapKey", "unwrapKey"]);
    const label = utf8("label");
    const sealed = await subtle.encrypt({ name: "RSA-OAEP", label }, oaep.publicKey, utf8("secret"));
    const algorithm = pkcs1.publicKey.algorithm;
    return {
      algorithm: [algorithm.name, algorithm.modulusLength, algorithm.publicExponent instanceof Uint8Array, [...algorithm.publicExponent], algorithm.hash],
      pkcs1: [pkcs1Signature.byteLength, await subtle.verify("RSASSA-PKCS1-v1_5", pkcs1.publicKey, pkcs1Signature, message)],
      pkcs1Other: await subtle.verify("RSASSA-PKCS1-v1_5", pkcs1.publicKey, pkcs1Signature, utf8("other")),
      pss: await subtle.verify({ name: "RSA-PSS", saltLength: 32 }, pss.publicKey, pssSignature, message),
      oaep: new TextDecoder().decode(await subtle.decrypt({ name: "RSA-OAEP", label }, oaep.privateKey, sealed)),
      oaepWrongLabel: await failure(subtle.decrypt({ name: "RSA-OAEP", label: utf8("other") }, oaep.privateKey, sealed)),
      oaepUsages: [oaep.publicKey.usages, oaep.privateKey.usages],
    };
  `);
  assert.deepEqual(seen, {
    algorithm: ["RSASSA-PKCS1-v1_5", 2048, true, [1, 0, 1], { name: "SHA-256" }],
    pkcs1: [256, true],
    pkcs1Other: false,
    pss: true,
    oaep: "secret",
    oaepWrongLabel: "OperationError/DOMException",
    oaepUsages: [["encrypt", "wrapKey"], ["decrypt", "unwrapKey"]],
  });
});

test("ECDH (P-256, P-384) and X25519 deriveBits agree on both sides; deriveKey from ECDH", async () => {
  const seen = await inIsolate(`
    const out = {};
    for (const [name, curve, bits] of [["ECDH", "P-256", 256], ["ECDH", "P-384", 384], ["X25519", undefined, 256]]) {
      const algorithm = curve ? { name, namedCurve: curve } : name;
      const alice = await subtle.generateKey(algorithm, false, ["deriveBits", "deriveKey"]);
      const bob = await subtle.generateKey(algorithm, false, ["deriveBits"]);
      const ab = await subtle.deriveBits({ name, public: bob.publicKey }, alice.privateKey, bits);
      const ba = await subtle.deriveBits({ name, public: alice.publicKey }, bob.privateKey, bits);
      out[curve ?? name] = [ab.byteLength, hex(ab) === hex(ba)];
    }
    const alice = await subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, false, ["deriveKey"]);
    const bob = await subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, false, ["deriveKey"]);
    const shared = await subtle.deriveKey({ name: "ECDH", public: bob.publicKey }, alice.privateKey, { name: "HMAC", hash: "SHA-256", length: 256 }, false, ["sign"]);
    out.derived = shared.algorithm;
    out.notAKey = await failure(subtle.deriveBits({ name: "ECDH", public: { type: "public" } }, alice.privateKey, 256));
    return out;
  `);
  assert.deepEqual(seen, {
    "P-256": [32, true],
    "P-384": [48, true],
    X25519: [32, true],
    derived: { name: "HMAC", length: 256, hash: { name: "SHA-256" } },
    notAKey: "TypeError/TypeError",
  });
});

test("import and export round trips: jwk, spki, pkcs8, raw", async () => {
  const seen = await inIsolate(`
    const ec = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
    const jwk = await subtle.exportKey("jwk", ec.privateKey);
    const fromJwk = await subtle.importKey("jwk", jwk, { name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]);
    const spki = await subtle.exportKey("spki", ec.publicKey);
    const fromSpki = await subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
    const pkcs8 = await subtle.exportKey("pkcs8", ec.privateKey);
    const fromPkcs8 = await subtle.importKey("pkcs8", new Uint8Array(pkcs8), { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
    const rawPublic = await subtle.exportKey("raw", ec.publicKey);
    const signature = await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, fromPkcs8, utf8("m"));
    const rsa = await subtle.generateKey({ name: "RSA-OAEP", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }, true, ["encrypt", "decrypt"]);
    const rsaJwk = await subtle.exportKey("jwk", rsa.publicKey);
    const rsaBack = await subtle.exportKey("jwk", await subtle.importKey("jwk", rsaJwk, { name: "RSA-OAEP", hash: "SHA-256" }, true, ["encrypt"]));
    const hmac = await subtle.importKey("jwk", { kty: "oct", k: "SmVmZQ", alg: "HS256", ext: true }, { name: "HMAC", hash: "SHA-256" }, true, ["sign"]);
    const aesRaw = await subtle.exportKey("raw", await subtle.importKey("raw", new Uint8Array(32).fill(7), "AES-GCM", true, ["encrypt"]));
    return {
      jwk: [jwk.kty, jwk.crv, typeof jwk.d, jwk.ext, jwk.key_ops],
      jwkRoundTrip: JSON.stringify(await subtle.exportKey("jwk", fromJwk)) === JSON.stringify(jwk),
      spki: [spki instanceof ArrayBuffer, hex(await subtle.exportKey("spki", fromSpki)) === hex(spki)],
      pkcs8Signs: await subtle.verify({ name: "ECDSA", hash: "SHA-256" }, ec.publicKey, signature, utf8("m")),
      rawPublic: [rawPublic.byteLength, new Uint8Array(rawPublic)[0]],
      rsaJwk: [rsaJwk.kty, rsaJwk.alg, rsaJwk.e, rsaBack.n === rsaJwk.n],
      hmacJwk: await subtle.exportKey("jwk", hmac),
      aesRaw: hex(aesRaw),
    };
  `);
  assert.deepEqual(seen, {
    jwk: ["EC", "P-256", "string", true, ["sign"]],
    jwkRoundTrip: true,
    spki: [true, true],
    pkcs8Signs: true,
    rawPublic: [65, 4],
    rsaJwk: ["RSA", "RSA-OAEP-256", "AQAB", true],
    hmacJwk: { key_ops: ["sign"], ext: true, kty: "oct", k: "SmVmZQ", alg: "HS256" },
    aesRaw: "07".repeat(32),
  });
});

test("errors as the spec names them: TypeError for bad arguments, DOMExceptions for the rest, rejected and never thrown", async () => {
  const seen = await inIsolate(`
    const secret = await subtle.importKey("raw", new Uint8Array(16), "AES-GCM", false, ["encrypt"]);
    const hmac = await subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, true, ["sign"]);
    const iv = new Uint8Array(12);
    const out = {
      notExtractable: await failure(subtle.exportKey("raw", secret)),
      wrongUsage: await failure(subtle.decrypt({ name: "AES-GCM", iv }, secret, new Uint8Array(32))),
      wrongAlgorithmForKey: await failure(subtle.encrypt({ name: "AES-CBC", iv: new Uint8Array(16) }, secret, new Uint8Array(1))),
      unknownAlgorithm: await failure(subtle.digest("SHA-999", new Uint8Array(1))),
      notOffered: await failure(subtle.generateKey("Ed448", true, ["sign"])),
      numberAsName: await failure(subtle.digest(5, new Uint8Array(1))),
      missingName: await failure(subtle.digest({}, new Uint8Array(1))),
      missingMember: await failure(subtle.encrypt({ name: "AES-GCM" }, secret, new Uint8Array(1))),
      ivNotBytes: await failure(subtle.encrypt({ name: "AES-GCM", iv: "000000000000" }, secret, new Uint8Array(1))),
      dataNotBytes: await failure(subtle.digest("SHA-256", "abc")),
      keyNotAKey: await failure(subtle.sign("HMAC", { type: "secret" }, new Uint8Array(1))),
      badFormat: await failure(subtle.exportKey("pem", hmac)),
      badUsage: await failure(subtle.generateKey({ name: "AES-GCM", length: 128 }, true, ["fly"])),
      usageNotForAlgorithm: await failure(subtle.generateKey({ name: "AES-GCM", length: 128 }, true, ["sign"])),
      emptyUsages: await failure(subtle.generateKey({ name: "AES-GCM", length: 128 }, true, [])),
      badAesLength: await failure(subtle.generateKey({ name: "AES-GCM", length: 100 }, true, ["encrypt"])),
      badSpki: await failure(subtle.importKey("spki", new Uint8Array(10), { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"])),
      jwkAsBytes: await failure(subtle.importKey("jwk", new Uint8Array(4), "HMAC", true, ["sign"])),
      bytesAsJwk: await failure(subtle.importKey("raw", { kty: "oct" }, "AES-GCM", true, ["encrypt"])),
      tooFewArguments: await failure(subtle.digest("SHA-256")),
      notThrown: (() => { try { subtle.digest(); return "returned"; } catch { return "threw"; } })(),
    };
    try { await subtle.exportKey("raw", secret); } catch (e) { out.detail = [e.code, e.message.includes("/"), e.stack.includes("subtle-host")]; }
    return out;
  `);
  assert.deepEqual(seen, {
    notExtractable: "InvalidAccessError/DOMException",
    wrongUsage: "InvalidAccessError/DOMException",
    wrongAlgorithmForKey: "InvalidAccessError/DOMException",
    unknownAlgorithm: "NotSupportedError/DOMException",
    notOffered: "NotSupportedError/DOMException",
    numberAsName: "NotSupportedError/DOMException",
    missingName: "TypeError/TypeError",
    missingMember: "TypeError/TypeError",
    ivNotBytes: "TypeError/TypeError",
    dataNotBytes: "TypeError/TypeError",
    keyNotAKey: "TypeError/TypeError",
    badFormat: "TypeError/TypeError",
    badUsage: "TypeError/TypeError",
    usageNotForAlgorithm: "SyntaxError/DOMException",
    emptyUsages: "SyntaxError/DOMException",
    badAesLength: "OperationError/DOMException",
    badSpki: "DataError/DOMException",
    jwkAsBytes: "TypeError/TypeError",
    bytesAsJwk: "TypeError/TypeError",
    tooFewArguments: "TypeError/TypeError",
    notThrown: "returned",
    detail: [15, false, false],
  });
});

test("host limits: PBKDF2 work, RSA modulus size and input size are refused with clear errors", async () => {
  const seen = await inIsolate(`
    const password = await subtle.importKey("raw", utf8("pw"), "PBKDF2", false, ["deriveBits"]);
    const describe = async (promise) => { try { await promise; return "resolved"; } catch (e) { return [e.name, e.message]; } };
    return {
      pbkdf2: await describe(subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(8), iterations: 20_000_000 }, password, 256)),
      pbkdf2Blocks: await describe(subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(8), iterations: 1_000_000 }, password, 8 * 32 * 20)),
      rsa: await describe(subtle.generateKey({ name: "RSA-PSS", modulusLength: 16384, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }, false, ["sign"])),
      input: await describe(subtle.digest("SHA-256", new Uint8Array(32 * 1024 * 1024 + 1))),
    };
  `);
  assert.deepEqual(seen, {
    pbkdf2: ["OperationError", "crypto.subtle: PBKDF2 is limited to 10000000 iterations × output blocks per call on this host (asked: 20000000 × 1)"],
    pbkdf2Blocks: ["OperationError", "crypto.subtle: PBKDF2 is limited to 10000000 iterations × output blocks per call on this host (asked: 1000000 × 20)"],
    rsa: ["OperationError", "crypto.subtle: RSA moduli are limited to 8192 bits on this host"],
    input: ["QuotaExceededError", "crypto.subtle: a call takes at most 33554432 bytes of input on this host"],
  });
});

test("a key kept in module scope serves later invocations of the same isolate", async () => {
  const harness = await RuntimeHarness.boot(`
    let key;
    export default {
      async fetch(request) {
        key ??= await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
        const data = new TextEncoder().encode(new URL(request.url).pathname);
        const mac = await crypto.subtle.sign("HMAC", key, data);
        return Response.json({ mac: [...new Uint8Array(mac)], ok: await crypto.subtle.verify("HMAC", key, mac, data) });
      },
    };
  `);
  try {
    const first = (await harness.fetch({ url: "https://x.example/a" })).json() as { mac: number[]; ok: boolean };
    const second = (await harness.fetch({ url: "https://x.example/a" })).json() as { mac: number[]; ok: boolean };
    const other = (await harness.fetch({ url: "https://x.example/b" })).json() as { mac: number[]; ok: boolean };
    assert.equal(first.ok, true);
    assert.deepEqual(second.mac, first.mac, "same key, same MAC");
    assert.notDeepEqual(other.mac, first.mac);
    assert.equal(harness.keys.size, 1);
    assert.deepEqual(harness.callErrors, []);
  } finally {
    harness.dispose();
  }
});
