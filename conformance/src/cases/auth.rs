//! Section 14 cases, for nodes in `secure` mode: the suite signs as the identities the
//! profile's `security` member gives (a node of the target's policy; for a broker, the
//! registry too) and checks each refusal's code, that every reply is signed for the request
//! it answers, and, for brokers, a delivery end to end.

use serde_json::{json, Value};
use uhome_protocol::auth::{
    sign_origin, AuthError, AuthFault, Field, KeyId, SigningKey, VerifyingKey,
};
use uhome_protocol::core_events::{
    BROKER_ID, DISCOVER, HEALTHCHECK, NODES, PUBLISH, REGISTER, REGISTRY_ID, SUBSCRIBE, UNREGISTER,
    UNSUBSCRIBE,
};
use uhome_protocol::{Envelope, RawJson};

use super::{case, Case};
use crate::case::{violation, CaseFuture, CaseResult, Level::*, Problem, Role};
use crate::ctx::Ctx;
use crate::peers::{Mode, Peer};
use crate::profile::{ProfileIdentity, SecureProfile};
use crate::signing::{self, check_reply, fresh_key, Identity, Sign};
use crate::wire::{frame, Read, Reply, Request, REQUEST_TIMESTAMP};

pub(super) fn cases() -> Vec<Case> {
    use Role::{Secure, SecureBroker, SecureRegistry, SecureService};
    vec![
        case("UH-AUTH-22/unsigned-refused", &["UH-AUTH-22", "UH-AUTH-27", "UH-AUTH-6"], Must, Secure,
            "a request without auth is refused unauthenticated, status 2, message \"Request is not authenticated\", in a reply signed without re", unsigned_refused),
        case("UH-AUTH-6/replies-signed", &["UH-AUTH-6", "UH-AUTH-1"], Must, Secure,
            "a signed healthcheck is answered healthy; that reply and a refusal are signed with the node's key (its key id per UH-AUTH-1), re naming the request's nonce, ts within the window", replies_signed),
        case("UH-AUTH-2/unknown-key", &["UH-AUTH-2", "UH-AUTH-27"], Must, Secure,
            "a request signed by a key the policy does not pin is refused unknown_key, message \"Unknown key\"", unknown_key),
        case("UH-AUTH-3/out-of-form", &["UH-AUTH-3", "UH-AUTH-27"], Must, Secure,
            "authenticators out of form (sig of 127 characters, kid in upper case, ts with a fraction, auth not an object, auth twice, nonce twice) are refused unauthenticated", out_of_form),
        case("UH-AUTH-4/altered", &["UH-AUTH-4", "UH-AUTH-27"], Must, Secure,
            "a signed request with one payload byte, the header's version, or one signature character altered, S + L for S, R of small order, or signed by another key under the client's key id, is refused bad_signature, message \"Signature does not verify\"", altered),
        case("UH-AUTH-5/audience", &["UH-AUTH-5", "UH-AUTH-27"], Must, Secure,
            "a signed request without aud, or for another key, is refused forbidden", audience),
        case("UH-AUTH-8/stale", &["UH-AUTH-8", "UH-AUTH-6"], Must, Secure,
            "requests whose ts is a minute beyond the clock window, before or after, are refused stale, message \"Request is stale\", in a reply signed with re whose ts is the node's clock", stale),
        case("UH-AUTH-9/replayed", &["UH-AUTH-9", "UH-AUTH-27"], Must, Secure,
            "a signed request sent again on a new connection is refused replayed, message \"Request was replayed\"", replayed),
        case("UH-AUTH-13/source-bound", &["UH-AUTH-13"], Must, Secure,
            "a request signed by the client's key with another node's id as source is refused forbidden", source_bound),
        case("UH-AUTH-26/order", &["UH-AUTH-26"], Must, Secure,
            "with several faults the first check answers: an unsigned unknown type is unauthenticated (not no_handler), a stale frame with a broken signature stale, another audience with a broken signature bad_signature, an unknown key with a stale ts unknown_key; a signed unknown type is no_handler", order),
        case("UH-AUTH-14/register-as-itself", &["UH-AUTH-14", "UH-AUTH-5", "UH-AUTH-7"], Must, SecureRegistry,
            "a registration signed by the client's key, for its node id and with its data.key, is registered after a health check signed for the client's key", register_as_itself),
        case("UH-AUTH-14/register-as-another", &["UH-AUTH-14"], Must, SecureRegistry,
            "a signed registration of another node id, or with another data.key, is refused forbidden with the register failure message", register_as_another),
        case("UH-AUTH-15/unregister-another", &["UH-AUTH-15"], Must, SecureRegistry,
            "a signed unregistration of another node, by a key without the operator role, is refused forbidden", unregister_another),
        case("UH-AUTH-20/keys-in-lists", &["UH-AUTH-20"], Must, SecureRegistry,
            "a node registered by its key without data.key is listed with the key the policy pins in discover and in the list pushed to the broker", keys_in_lists),
        case("UH-AUTH-7/unsigned-health-reply", &["UH-AUTH-7"], Must, SecureRegistry,
            "a registration whose health check is answered by an unsigned reply is refused unhealthy", unsigned_health_reply),
        case("UH-AUTH-25/outbound-denied", &["UH-AUTH-25"], Must, SecureRegistry,
            "a signed registration at an address outside the outbound allow-list is refused forbidden, reason naming \"address\"", outbound_denied),
        case("UH-AUTH-16/nodes-from-the-registry", &["UH-AUTH-16"], Must, SecureBroker,
            "a list signed by another key than the registry's is refused forbidden; the registry's is accepted", nodes_from_registry),
        case("UH-AUTH-17/subscribe-rules", &["UH-AUTH-17", "UH-AUTH-13"], Must, SecureBroker,
            "a listed node subscribes as itself within its patterns; as another node, or beyond its patterns, it is refused forbidden with the subscribe failure message", subscribe_rules),
        case("UH-AUTH-18/publish-rules", &["UH-AUTH-18"], Must, SecureBroker,
            "a type the policy lets the client publish is published; one it does not is refused forbidden with the publish failure message", publish_rules),
        case("UH-AUTH-11/delivery-end-to-end", &["UH-AUTH-11", "UH-AUTH-5"], Must, SecureBroker,
            "a publish with its origin is delivered signed by the broker for the subscriber's key, with data and origin unchanged, so the origin verifies with the publisher's key", delivery_end_to_end),
        case("UH-AUTH-12/deliveries-verified", &["UH-AUTH-12", "UH-AUTH-26"], Must, SecureService,
            "a delivery signed by the broker with the publisher's origin is handled; without origin it is refused unauthenticated, with its data altered bad_signature, with an origin of an unknown key unknown_key, stale stale, signed by the publisher for another node's source forbidden", deliveries_verified),
        case("UH-AUTH-12/delivered-once", &["UH-AUTH-12"], Must, SecureService,
            "the same event delivered again, in a new frame signed by the broker, is refused replayed", delivered_once),
    ]
}

/// What the secure cases run with, from the profile.
struct Secure {
    profile: SecureProfile,
    node_key: VerifyingKey,
    client: Identity,
    skew_ms: u64,
}

fn identity(id: &ProfileIdentity, what: &str) -> Result<Identity, Problem> {
    let secret = signing::parse32(&id.secret).ok_or_else(|| {
        Problem::Harness(format!(
            "the profile's {what} secret is not 64 hex characters"
        ))
    })?;
    Ok(Identity {
        node_id: id.node_id.clone(),
        key: SigningKey::from_bytes(&secret),
    })
}

fn secure(ctx: &Ctx) -> Result<Secure, Problem> {
    let profile = ctx.profile.security.as_ref().ok_or_else(|| {
        Problem::Harness("the secure roles need the profile's \"security\" member".into())
    })?;
    let node_key = signing::parse32(&profile.node_key)
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        .ok_or_else(|| Problem::Harness("the profile's nodeKey is no Ed25519 public key".into()))?;
    Ok(Secure {
        profile: profile.clone(),
        node_key,
        client: identity(&profile.client, "client")?,
        skew_ms: profile
            .skew_ms
            .unwrap_or(uhome_protocol::auth::DEFAULT_SKEW_MS),
    })
}

/// A member of the profile's `security` a case needs.
fn needs<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, Problem> {
    value
        .as_deref()
        .ok_or_else(|| Problem::Harness(format!("this case needs the profile's security.{name}")))
}

impl Secure {
    fn node_kid(&self) -> KeyId {
        KeyId::of(&self.node_key)
    }

    /// A node id of every policy that is not the client's.
    fn other_node(&self) -> &'static str {
        if self.client.node_id == BROKER_ID {
            REGISTRY_ID
        } else {
            BROKER_ID
        }
    }

    /// `request` signed by `who` with `how`.
    fn sign_as(
        &self,
        who: &SigningKey,
        request: &Request<'_>,
        how: Sign,
    ) -> Result<Vec<u8>, Problem> {
        signing::sign(&request.encode(), who, how)
            .ok_or_else(|| Problem::Harness("cannot sign the request".into()))
    }

    /// `event_type` from the client, signed for the node, now.
    fn signed(&self, event_type: &str, data: Option<Value>) -> Result<(Vec<u8>, Sign), Problem> {
        let how = Sign::request(Some(self.node_kid()));
        let request = Request::new(event_type, data).from(&self.client.node_id);
        Ok((self.sign_as(&self.client.key, &request, how)?, how))
    }
}

/// One frame on a new connection: the reply and its bytes.
async fn exchange(ctx: &Ctx, bytes: &[u8]) -> Result<(Reply, Vec<u8>), Problem> {
    let mut conn = ctx.conn().await?;
    conn.send(bytes).await?;
    match conn.read_within(ctx.timeout).await {
        Read::Frame(raw) => Ok((Reply::decode(&raw)?, raw)),
        Read::Closed => Err(violation("a reply", "the node closed the connection")),
        Read::TimedOut => Err(violation(
            "a reply",
            format!("none within {:?}", ctx.timeout),
        )),
    }
}

const MESSAGES: [(&str, &str); 6] = [
    ("unauthenticated", "Request is not authenticated"),
    ("bad_signature", "Signature does not verify"),
    ("unknown_key", "Unknown key"),
    ("stale", "Request is stale"),
    ("replayed", "Request was replayed"),
    ("forbidden", "Request is forbidden"),
];

/// The refusal `code` with Appendix B's message (`message` overrides it: a type's failure
/// message for `forbidden`).
fn must_refuse(reply: &Reply, code: &str, message: Option<&str>, what: &str) -> CaseResult {
    let fixed = MESSAGES.iter().find(|(c, _)| *c == code).map(|(_, m)| *m);
    reply
        .must_be(2, code, message.or(fixed))
        .map_err(|e| match e {
            Problem::Violation { expected, actual } => {
                violation(format!("{what}: {expected}"), actual)
            }
            other => other,
        })
}

/// `bytes` answered with `code`.
async fn refused(
    ctx: &Ctx,
    bytes: &[u8],
    code: &str,
    message: Option<&str>,
    what: &str,
) -> CaseResult {
    let (reply, _) = exchange(ctx, bytes).await?;
    must_refuse(&reply, code, message, what)
}

/// The payload of `bytes` as text, edited by `edit`, framed again with `version`.
fn edited(bytes: &[u8], version: u16, edit: impl FnOnce(String) -> String) -> Vec<u8> {
    let payload = String::from_utf8_lossy(bytes.get(5..).unwrap_or_default()).into_owned();
    frame(version, 1, edit(payload).as_bytes())
}

/// The text of `"name":"…"` in `payload`: where its value starts and ends.
fn value_span(payload: &str, name: &str) -> Option<(usize, usize)> {
    let key = format!("\"{name}\":\"");
    let start = payload.rfind(&key)? + key.len();
    let end = start + payload.get(start..)?.find('"')?;
    Some((start, end))
}

fn replace_value(payload: String, name: &str, f: impl FnOnce(&str) -> String) -> String {
    match value_span(&payload, name) {
        Some((start, end)) => {
            let new = f(payload.get(start..end).unwrap_or_default());
            format!("{}{new}{}", &payload[..start], &payload[end..])
        }
        None => payload,
    }
}

/// A hex digit other than `c`.
fn other_hex(c: char) -> char {
    if c == '0' {
        '1'
    } else {
        '0'
    }
}

/// The group order L, little-endian (RFC 8032).
const ORDER_L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// A signature's hex with S replaced by S + L: the same point equation, not canonical.
fn s_plus_l(sig: &str) -> String {
    let Ok(mut bytes) = hex::decode(sig) else {
        return sig.to_string();
    };
    let mut carry = 0u16;
    for (b, l) in bytes.iter_mut().skip(32).zip(ORDER_L) {
        let sum = u16::from(*b) + u16::from(l) + carry;
        *b = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
    hex::encode(bytes)
}

fn flip_first(text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    if let Some(c) = chars.first_mut() {
        *c = other_hex(*c);
    }
    chars.into_iter().collect()
}

fn unsigned_refused(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let s = secure(ctx)?;
        let request = Request::new(HEALTHCHECK, None).encode();
        let (reply, raw) = exchange(ctx, &request).await?;
        must_refuse(&reply, "unauthenticated", None, "an unsigned healthcheck")?;
        // Signed all the same, without `re` ([UH-AUTH-6]): verifying it for any nonce finds
        // everything but `re` in order.
        match check_reply(&raw, &s.node_key, &signing::fresh_nonce(), s.skew_ms) {
            Err(AuthError::Unauthenticated(AuthFault::Missing(Field::Re))) => Ok(()),
            other => Err(violation(
                "the refusal signed by the node's key, without re",
                format!("{other:?}"),
            )),
        }
    })
}

fn replies_signed(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let s = secure(ctx)?;
        let (bytes, how) = s.signed(HEALTHCHECK, None)?;
        let (reply, raw) = exchange(ctx, &bytes).await?;
        reply.must_be(1, "healthy", Some("Service is healthy"))?;
        check_reply(&raw, &s.node_key, &how.nonce, s.skew_ms).map_err(|e| {
            violation(
                "the healthy reply signed by the node's key, with re the request's nonce",
                e.to_string(),
            )
        })?;
        let how = Sign::request(Some(s.client.kid()));
        let request = Request::new(HEALTHCHECK, None).from(&s.client.node_id);
        let refused_bytes = s.sign_as(&s.client.key, &request, how)?;
        let (reply, raw) = exchange(ctx, &refused_bytes).await?;
        must_refuse(
            &reply,
            "forbidden",
            None,
            "a healthcheck for another audience",
        )?;
        check_reply(&raw, &s.node_key, &how.nonce, s.skew_ms).map_err(|e| {
            violation(
                "the refusal signed by the node's key, with re the request's nonce",
                e.to_string(),
            )
        })
    })
}

fn unknown_key(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let s = secure(ctx)?;
        let stranger = fresh_key();
        let request = Request::new(HEALTHCHECK, None).from(&s.client.node_id);
        let bytes = s.sign_as(&stranger, &request, Sign::request(Some(s.node_kid())))?;
        refused(ctx, &bytes, "unknown_key", None, "a key no policy pins").await
    })
}

fn out_of_form(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let s = secure(ctx)?;
        type Edit = fn(String) -> String;
        let edits: [(&str, Edit); 6] = [
            ("sig of 127 characters", |p| {
                replace_value(p, "sig", |v| v.get(1..).unwrap_or_default().to_string())
            }),
            ("kid in upper case", |p| replace_value(p, "kid", upper_case)),
            ("ts with a fraction", |p| {
                let at = p.find("\"ts\":").map(|i| i + 5);
                match at.and_then(|i| p.get(i..).and_then(|t| t.find(',')).map(|e| i + e)) {
                    Some(end) => format!("{}.5{}", &p[..end], &p[end..]),
                    None => p,
                }
            }),
            ("auth a string", |p| match p.find("\"auth\":") {
                Some(i) => format!("{}\"auth\":\"signed\"}}", &p[..i]),
                None => p,
            }),
            ("auth twice", |p| {
                match (p.find("\"auth\":"), p.rfind('}')) {
                    (Some(i), Some(_)) => {
                        let auth = p[i..p.len() - 1].to_string();
                        format!("{},{auth}}}", &p[..p.len() - 1])
                    }
                    _ => p,
                }
            }),
            ("nonce twice", |p| match value_span(&p, "nonce") {
                Some((start, end)) => {
                    let nonce = p[start..end].to_string();
                    format!("{},\"nonce\":\"{nonce}\"{}", &p[..end + 1], &p[end + 1..])
                }
                None => p,
            }),
        ];
        for (what, edit) in edits {
            let (bytes, _) = s.signed(HEALTHCHECK, None)?;
            let bad = edited(&bytes, 2, edit);
            if bad == bytes {
                return Err(Problem::Harness(format!("cannot make {what}")));
            }
            let (reply, _) = exchange(ctx, &bad).await?;
            // A repeated `auth` MAY be refused duplicate_member while decoding ([UH-EVENT-5]).
            if what == "auth twice" && reply.is("duplicate_member", None) && reply.status == 2 {
                continue;
            }
            must_refuse(&reply, "unauthenticated", None, what)?;
        }
        Ok(())
    })
}

/// `hex` in upper case; a hex of digits only gets an upper-case first digit, `A`.
fn upper_case(hex: &str) -> String {
    if hex.bytes().any(|b| b.is_ascii_lowercase()) {
        hex.to_uppercase()
    } else {
        format!("A{}", hex.get(1..).unwrap_or_default())
    }
}

/// A signature's hex (R, then S) with R replaced by the identity point, of small order.
fn small_order_r(sig: &str) -> String {
    format!("01{}{}", "0".repeat(62), sig.get(64..).unwrap_or_default())
}

fn altered(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let s = secure(ctx)?;
        type Alter = fn(&[u8]) -> Vec<u8>;
        // The last two check strict verification ([UH-AUTH-4]): S + L passes the RFC's bare
        // equation, and a small-order R can too for some keys.
        let alterations: [(&str, Alter); 5] = [
            ("one payload byte altered", |b| {
                edited(b, 2, |p| p.replacen("conformance-", "conformancf-", 1))
            }),
            ("the header's version altered (2 to 1)", |b| {
                edited(b, 1, |p| p)
            }),
            ("one signature character altered", |b| {
                edited(b, 2, |p| replace_value(p, "sig", flip_first))
            }),
            ("S + L in place of S", |b| {
                edited(b, 2, |p| replace_value(p, "sig", s_plus_l))
            }),
            ("R the identity point (small order)", |b| {
                edited(b, 2, |p| replace_value(p, "sig", small_order_r))
            }),
        ];
        for (what, alter) in alterations {
            let (bytes, _) = s.signed(HEALTHCHECK, None)?;
            refused(ctx, &alter(&bytes), "bad_signature", None, what).await?;
        }
        let request = Request::new(HEALTHCHECK, None).from(&s.client.node_id);
        let forged = s.sign_as(&fresh_key(), &request, Sign::request(Some(s.node_kid())))?;
        let client_kid = String::from_utf8_lossy(&s.client.kid().to_hex()).into_owned();
        let forged = edited(&forged, 2, |p| replace_value(p, "kid", |_| client_kid));
        let what = "signed by another key under the client's key id";
        refused(ctx, &forged, "bad_signature", None, what).await
    })
}

fn audience(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let s = secure(ctx)?;
        let request = Request::new(HEALTHCHECK, None).from(&s.client.node_id);
        let none = s.sign_as(&s.client.key, &request, Sign::request(None))?;
        refused(ctx, &none, "forbidden", None, "no aud").await?;
        let request = Request::new(HEALTHCHECK, None).from(&s.client.node_id);
        let other = s.sign_as(&s.client.key, &request, Sign::request(Some(s.client.kid())))?;
        refused(ctx, &other, "forbidden", None, "aud another key's id").await
    })
}

fn stale(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let s = secure(ctx)?;
        let beyond = s.skew_ms + 60_000;
        let now = signing::now_ms();
        for (what, ts) in [
            ("before the window", now.saturating_sub(beyond)),
            ("after the window", now + beyond),
        ] {
            let how = Sign {
                ts,
                ..Sign::request(Some(s.node_kid()))
            };
            let request = Request::new(HEALTHCHECK, None).from(&s.client.node_id);
            let bytes = s.sign_as(&s.client.key, &request, how)?;
            let (reply, raw) = exchange(ctx, &bytes).await?;
            must_refuse(&reply, "stale", None, what)?;
            check_reply(&raw, &s.node_key, &how.nonce, s.skew_ms).map_err(|e| {
                violation(
                    "the stale refusal signed with re, its ts the node's clock",
                    e.to_string(),
                )
            })?;
        }
        Ok(())
    })
}

fn replayed(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let s = secure(ctx)?;
        let (bytes, _) = s.signed(HEALTHCHECK, None)?;
        let (first, _) = exchange(ctx, &bytes).await?;
        first.must_be(1, "healthy", None)?;
        refused(
            ctx,
            &bytes,
            "replayed",
            None,
            "the same signed request again",
        )
        .await
    })
}

fn source_bound(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let s = secure(ctx)?;
        let other = s.other_node();
        let request = Request::new(HEALTHCHECK, None).from(other);
        let bytes = s.sign_as(&s.client.key, &request, Sign::request(Some(s.node_kid())))?;
        refused(
            ctx,
            &bytes,
            "forbidden",
            None,
            "the client's key with another node's id as source",
        )
        .await
    })
}

fn order(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let s = secure(ctx)?;
        let unknown_type = "conformance.no.such.type";
        let unsigned = Request::new(unknown_type, None)
            .from(&s.client.node_id)
            .encode();
        refused(
            ctx,
            &unsigned,
            "unauthenticated",
            None,
            "an unsigned request of an unknown type",
        )
        .await?;
        let old = Sign {
            ts: signing::now_ms().saturating_sub(s.skew_ms + 60_000),
            ..Sign::request(Some(s.node_kid()))
        };
        let request = Request::new(HEALTHCHECK, None).from(&s.client.node_id);
        let stale = s.sign_as(&s.client.key, &request, old)?;
        let broken = edited(&stale, 2, |p| replace_value(p, "sig", flip_first));
        refused(
            ctx,
            &broken,
            "stale",
            None,
            "a stale frame with a broken signature",
        )
        .await?;
        let request = Request::new(HEALTHCHECK, None).from(&s.client.node_id);
        let other_aud = s.sign_as(&s.client.key, &request, Sign::request(Some(s.client.kid())))?;
        let broken = edited(&other_aud, 2, |p| replace_value(p, "sig", flip_first));
        refused(
            ctx,
            &broken,
            "bad_signature",
            None,
            "another audience with a broken signature",
        )
        .await?;
        let request = Request::new(HEALTHCHECK, None).from(&s.client.node_id);
        let unknown = s.sign_as(&fresh_key(), &request, old)?;
        refused(
            ctx,
            &unknown,
            "unknown_key",
            None,
            "an unknown key with a stale ts",
        )
        .await?;
        let (signed, _) = s.signed(unknown_type, None)?;
        let (reply, _) = exchange(ctx, &signed).await?;
        reply.must_be(1, "no_handler", None)
    })
}

/// The client, played by the suite at a listener that answers health checks signed with the
/// client's key.
async fn client_node(ctx: &Ctx, s: &Secure, signs: bool) -> Result<Peer, Problem> {
    let peer = Peer::start(&s.client.node_id, "127.0.0.1:0", Mode::Healthy)
        .await
        .map_err(|e| Problem::Harness(format!("cannot listen as the client: {e}")))?;
    peer.record_into(&ctx.transcript);
    if signs {
        peer.sign_with(s.client.key.clone());
    }
    Ok(peer)
}

async fn signed_register(
    ctx: &Ctx,
    s: &Secure,
    node_id: &str,
    address: &str,
    key: &str,
) -> Result<Reply, Problem> {
    let data = json!({"nodeId": node_id, "address": address, "key": key});
    let (bytes, _) = s.signed(REGISTER, Some(data))?;
    Ok(exchange(ctx, &bytes).await?.0)
}

async fn signed_unregister(ctx: &Ctx, s: &Secure, node_id: &str) -> Result<Reply, Problem> {
    let (bytes, _) = s.signed(UNREGISTER, Some(json!({"nodeId": node_id})))?;
    Ok(exchange(ctx, &bytes).await?.0)
}

fn register_as_itself(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let s = secure(ctx)?;
        let node = client_node(ctx, &s, true).await?;
        let reply = signed_register(
            ctx,
            &s,
            &s.client.node_id,
            &node.addr(),
            &s.client.public_hex(),
        )
        .await?;
        let result = (|| {
            reply.must_be(1, "registered", None)?;
            let check = node
                .received_of(HEALTHCHECK)
                .into_iter()
                .next()
                .ok_or_else(|| violation("a health check of the client's address", "none"))?;
            signing::check_request(&check.raw, &s.node_key, s.client.kid(), s.skew_ms)
                .map(|_| ())
                .map_err(|e| {
                    violation(
                        "the health check signed by the registry for the client's key",
                        e.to_string(),
                    )
                })
        })();
        signed_unregister(ctx, &s, &s.client.node_id).await?;
        result
    })
}

fn register_as_another(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let s = secure(ctx)?;
        let node = client_node(ctx, &s, true).await?;
        let failure = Some("Failed to register microservice");
        let other = ctx.node_id("another");
        let reply = signed_register(ctx, &s, &other, &node.addr(), &s.client.public_hex()).await?;
        must_refuse(
            &reply,
            "forbidden",
            failure,
            "a registration of another node id",
        )?;
        let stranger = hex::encode(fresh_key().verifying_key().as_bytes());
        let reply = signed_register(ctx, &s, &s.client.node_id, &node.addr(), &stranger).await?;
        must_refuse(
            &reply,
            "forbidden",
            failure,
            "a registration with another data.key",
        )
    })
}

fn unregister_another(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let s = secure(ctx)?;
        let other = s.other_node();
        let reply = signed_unregister(ctx, &s, other).await?;
        must_refuse(
            &reply,
            "forbidden",
            Some("Failed to unregister microservice"),
            "an unregistration of another node",
        )
    })
}

fn listed_key(nodes: Option<&Value>, node_id: &str) -> Option<String> {
    nodes?
        .as_array()?
        .iter()
        .find(|n| n.get("nodeId").and_then(Value::as_str) == Some(node_id))?
        .get("key")?
        .as_str()
        .map(str::to_string)
}

fn keys_in_lists(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let s = secure(ctx)?;
        let broker = ctx.broker.clone();
        let node = client_node(ctx, &s, true).await?;
        if let Some(b) = &broker {
            b.clear();
        }
        // Without data.key: the key listed is the one the registry's policy pins.
        let data = json!({"nodeId": s.client.node_id, "address": node.addr()});
        let (bytes, _) = s.signed(REGISTER, Some(data))?;
        exchange(ctx, &bytes)
            .await?
            .0
            .must_be(1, "registered", None)?;
        let expected = s.client.public_hex();
        let result = async {
            let (bytes, _) = s.signed(DISCOVER, Some(json!({})))?;
            let (reply, _) = exchange(ctx, &bytes).await?;
            reply.must_be(1, "nodes", None)?;
            let got = listed_key(
                reply.data.as_ref().and_then(|d| d.get("nodes")),
                &s.client.node_id,
            );
            if got.as_deref() != Some(expected.as_str()) {
                return Err(violation(
                    format!("discover lists the client with key {expected}"),
                    format!("{got:?}"),
                ));
            }
            let Some(broker) = &broker else {
                return Err(Problem::Harness(
                    "no broker listener for registry cases".into(),
                ));
            };
            let pushed = broker
                .wait_for(ctx.timeout, |r| {
                    r.iter().any(|p| {
                        p.event_type == NODES
                            && listed_key(
                                p.data.as_ref().and_then(|d| d.get("nodes")),
                                &s.client.node_id,
                            )
                            .as_deref()
                                == Some(expected.as_str())
                    })
                })
                .await;
            if !pushed {
                return Err(violation("a pushed list with the client's key", "none"));
            }
            Ok(())
        }
        .await;
        signed_unregister(ctx, &s, &s.client.node_id).await?;
        result
    })
}

fn unsigned_health_reply(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let s = secure(ctx)?;
        let node = client_node(ctx, &s, false).await?;
        let reply = signed_register(
            ctx,
            &s,
            &s.client.node_id,
            &node.addr(),
            &s.client.public_hex(),
        )
        .await?;
        if reply.status == 1 {
            signed_unregister(ctx, &s, &s.client.node_id).await?;
        }
        reply.must_be(2, "unhealthy", None)
    })
}

fn outbound_denied(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let s = secure(ctx)?;
        let address = needs(&s.profile.outbound_denied, "outboundDenied")?;
        let reply =
            signed_register(ctx, &s, &s.client.node_id, address, &s.client.public_hex()).await?;
        if reply.status == 1 {
            signed_unregister(ctx, &s, &s.client.node_id).await?;
        }
        must_refuse(
            &reply,
            "forbidden",
            Some("Failed to register microservice"),
            "a registration outside the outbound list",
        )?;
        if !reply.reason().is_some_and(|r| r.contains("\"address\"")) {
            return Err(violation("a reason naming \"address\"", reply.summary()));
        }
        Ok(())
    })
}

/// The registry's identity, for lists pushed to a broker target.
fn registry_identity(s: &Secure) -> Result<Identity, Problem> {
    let id = s.profile.registry.as_ref().ok_or_else(|| {
        Problem::Harness("broker cases need the profile's security.registry".into())
    })?;
    identity(id, "registry")
}

/// Pushes `nodes` to the broker as the registry; the reply.
async fn push(ctx: &Ctx, s: &Secure, registry: &Identity, nodes: Value) -> Result<Reply, Problem> {
    let request = Request::new(NODES, Some(json!({ "nodes": nodes }))).from(&registry.node_id);
    let bytes = s.sign_as(&registry.key, &request, Sign::request(Some(s.node_kid())))?;
    Ok(exchange(ctx, &bytes).await?.0)
}

fn entry(s: &Secure, address: &str) -> Value {
    json!({"nodeId": s.client.node_id, "address": address, "key": s.client.public_hex()})
}

fn nodes_from_registry(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let s = secure(ctx)?;
        let registry = registry_identity(&s)?;
        let (bytes, _) = s.signed(NODES, Some(json!({"nodes": []})))?;
        refused(
            ctx,
            &bytes,
            "forbidden",
            Some("Failed to update active nodes"),
            "a list signed by the client",
        )
        .await?;
        push(ctx, &s, &registry, json!([]))
            .await?
            .must_be(1, "nodes_updated", None)
    })
}

fn subscribe_rules(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let s = secure(ctx)?;
        let registry = registry_identity(&s)?;
        let profile = &s.profile;
        let allowed = needs(&profile.publish_allowed, "publishAllowed")?;
        let forbidden = needs(&profile.subscribe_forbidden, "subscribeForbidden")?;
        let node = client_node(ctx, &s, true).await?;
        push(ctx, &s, &registry, json!([entry(&s, &node.addr())]))
            .await?
            .must_be(1, "nodes_updated", None)?;
        let failure = Some("Failed to subscribe for microservice to event");
        let (bytes, _) = s.signed(SUBSCRIBE, Some(json!({"subscribe": allowed})))?;
        exchange(ctx, &bytes)
            .await?
            .0
            .must_be(1, "subscribed", None)?;
        let (bytes, _) = s.signed(SUBSCRIBE, Some(json!({"subscribe": forbidden})))?;
        refused(
            ctx,
            &bytes,
            "forbidden",
            failure,
            "a pattern beyond the client's",
        )
        .await?;
        let other =
            Request::new(SUBSCRIBE, Some(json!({"subscribe": allowed}))).from(&registry.node_id);
        let bytes = s.sign_as(&s.client.key, &other, Sign::request(Some(s.node_kid())))?;
        refused(
            ctx,
            &bytes,
            "forbidden",
            failure,
            "a subscribe as another node",
        )
        .await?;
        let (bytes, _) = s.signed(UNSUBSCRIBE, Some(json!({"unsubscribe": allowed})))?;
        exchange(ctx, &bytes)
            .await?
            .0
            .must_be(1, "unsubscribed", None)?;
        push(ctx, &s, &registry, json!([]))
            .await?
            .must_be(1, "nodes_updated", None)
    })
}

/// A publish of `event_type` by the client with `data` and its origin signature, signed.
/// `text` is the published `data`, as written.
fn publish_with_origin(s: &Secure, event_type: &str, text: &str) -> Result<Vec<u8>, Problem> {
    let mut request = Request::new(PUBLISH, None).from(&s.client.node_id);
    let raw = RawJson::parse(text).map_err(|e| Problem::Harness(e.to_string()))?;
    let envelope = Envelope {
        id: &request.id,
        timestamp: REQUEST_TIMESTAMP,
        source: &s.client.node_id,
        event_type,
    };
    let origin = sign_origin(&s.client.key, signing::now_ms(), &envelope, Some(raw))
        .map_err(|e| Problem::Harness(e.to_string()))?;
    request.data = Some(format!(
        "{{\"type\":{},\"data\":{text},\"origin\":{{\"kid\":\"{}\",\"ts\":{},\"sig\":\"{}\"}}}}",
        Value::String(event_type.to_string()),
        String::from_utf8_lossy(&origin.kid.to_hex()),
        origin.ts,
        hex::encode(origin.sig),
    ));
    s.sign_as(&s.client.key, &request, Sign::request(Some(s.node_kid())))
}

fn publish_rules(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let s = secure(ctx)?;
        let profile = &s.profile;
        let allowed = needs(&profile.publish_allowed, "publishAllowed")?;
        let forbidden = needs(&profile.publish_forbidden, "publishForbidden")?;
        let ok = publish_with_origin(&s, allowed, r#"{"n":1}"#)?;
        exchange(ctx, &ok).await?.0.must_be(1, "published", None)?;
        let bad = publish_with_origin(&s, forbidden, r#"{"n":2}"#)?;
        refused(
            ctx,
            &bad,
            "forbidden",
            Some("Failed to publish event"),
            "a type the client may not publish",
        )
        .await
    })
}

fn delivery_end_to_end(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let s = secure(ctx)?;
        let registry = registry_identity(&s)?;
        let profile = &s.profile;
        let allowed = needs(&profile.publish_allowed, "publishAllowed")?.to_string();
        let node = client_node(ctx, &s, true).await?;
        push(ctx, &s, &registry, json!([entry(&s, &node.addr())]))
            .await?
            .must_be(1, "nodes_updated", None)?;
        let (bytes, _) = s.signed(SUBSCRIBE, Some(json!({"subscribe": allowed})))?;
        exchange(ctx, &bytes)
            .await?
            .0
            .must_be(1, "subscribed", None)?;
        // Not in serde's form (an escape, spaces, an exponent, a trailing zero): a broker
        // that parses and writes `data` again changes these bytes.
        let data = r#"{"room":"\u00b5-lab", "list":[1,2e3] ,"level":0.250}"#;
        let publish = publish_with_origin(&s, &allowed, data)?;
        let result = async {
            let (reply, _) = exchange(ctx, &publish).await?;
            reply.must_be(1, "published", None)?;
            let delivered = node
                .received_of(&allowed)
                .into_iter()
                .next()
                .ok_or_else(|| violation("a delivery to the subscriber", "none"))?;
            let text =
                String::from_utf8_lossy(delivered.raw.get(5..).unwrap_or_default()).into_owned();
            if !text.contains(&format!("\"data\":{data}")) {
                return Err(violation(
                    format!("the delivery's data, byte for byte: {data}"),
                    text,
                ));
            }
            signing::check_delivery(
                &delivered.raw,
                &s.node_key,
                s.client.kid(),
                &s.client.key.verifying_key(),
                s.skew_ms,
            )
            .map_err(|e| violation("a delivery whose frame and origin verify", e))
        }
        .await;
        let (bytes, _) = s.signed(UNSUBSCRIBE, Some(json!({"unsubscribe": allowed})))?;
        exchange(ctx, &bytes).await?;
        push(ctx, &s, &registry, json!([])).await?;
        result
    })
}

/// What a delivery to a secure service is made of, and how the suite spoils it.
struct Delivery<'a> {
    /// The publisher, who signs the origin (none: no origin).
    origin_by: Option<&'a SigningKey>,
    /// The `source` the event names.
    source: &'a str,
    /// The origin's `ts`.
    origin_ts: u64,
    /// The `data` delivered, when it differs from the signed one.
    delivered_data: Option<Value>,
    /// The event's id (a fresh one when `None`).
    id: Option<String>,
}

/// A delivery of the profile's `subscribedType` signed by the broker for the service.
fn delivery(s: &Secure, d: &Delivery<'_>) -> Result<Vec<u8>, Problem> {
    let profile = &s.profile;
    let event_type = needs(&profile.subscribed_type, "subscribedType")?.to_string();
    let broker = profile
        .broker
        .as_ref()
        .ok_or_else(|| Problem::Harness("this case needs the profile's security.broker".into()))
        .and_then(|b| identity(b, "broker"))?;
    let signed_data = json!({"celsius": 21.5, "room": "µ-lab"});
    let delivered = d
        .delivered_data
        .clone()
        .unwrap_or_else(|| signed_data.clone());
    let mut request = Request::new(&event_type, Some(delivered)).from(d.source);
    if let Some(id) = &d.id {
        request.id = id.clone();
    }
    let mut payload =
        String::from_utf8_lossy(request.encode().get(5..).unwrap_or_default()).into_owned();
    if let Some(key) = d.origin_by {
        let text = signed_data.to_string();
        let raw = RawJson::parse(&text).map_err(|e| Problem::Harness(e.to_string()))?;
        let envelope = Envelope {
            id: &request.id,
            timestamp: REQUEST_TIMESTAMP,
            source: d.source,
            event_type: &event_type,
        };
        let origin = sign_origin(key, d.origin_ts, &envelope, Some(raw))
            .map_err(|e| Problem::Harness(e.to_string()))?;
        payload.pop();
        payload.push_str(&format!(
            ",\"origin\":{{\"kid\":\"{}\",\"ts\":{},\"sig\":\"{}\"}}}}",
            String::from_utf8_lossy(&origin.kid.to_hex()),
            origin.ts,
            hex::encode(origin.sig),
        ));
    }
    signing::sign(
        &frame(2, 1, payload.as_bytes()),
        &broker.key,
        Sign::request(Some(s.node_kid())),
    )
    .ok_or_else(|| Problem::Harness("cannot sign the delivery".into()))
}

fn deliveries_verified(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let s = secure(ctx)?;
        let now = signing::now_ms();
        let good = Delivery {
            origin_by: Some(&s.client.key),
            source: &s.client.node_id,
            origin_ts: now,
            delivered_data: None,
            id: None,
        };
        let (reply, _) = exchange(ctx, &delivery(&s, &good)?).await?;
        if reply.status != 1 {
            return Err(violation(
                "the handler's reply (status 1) to a verified delivery",
                reply.summary(),
            ));
        }
        let stranger = fresh_key();
        let other = s.other_node();
        let spoiled: [(&str, Delivery<'_>, &str); 5] = [
            (
                "no origin",
                Delivery {
                    origin_by: None,
                    ..good_like(&good)
                },
                "unauthenticated",
            ),
            (
                "the data altered after the origin was signed",
                Delivery {
                    delivered_data: Some(json!({"celsius": 99})),
                    ..good_like(&good)
                },
                "bad_signature",
            ),
            (
                "an origin of a key no policy pins",
                Delivery {
                    origin_by: Some(&stranger),
                    ..good_like(&good)
                },
                "unknown_key",
            ),
            (
                "an origin a minute beyond the window",
                Delivery {
                    origin_ts: now.saturating_sub(s.skew_ms + 60_000),
                    ..good_like(&good)
                },
                "stale",
            ),
            (
                "the publisher's origin on an event whose source is another node",
                Delivery {
                    source: other,
                    ..good_like(&good)
                },
                "forbidden",
            ),
        ];
        for (what, d, code) in spoiled {
            refused(ctx, &delivery(&s, &d)?, code, None, what).await?;
        }
        Ok(())
    })
}

/// `good`'s parts, to spoil one of them.
fn good_like<'a>(good: &Delivery<'a>) -> Delivery<'a> {
    Delivery {
        origin_by: good.origin_by,
        source: good.source,
        origin_ts: good.origin_ts,
        delivered_data: good.delivered_data.clone(),
        id: None,
    }
}

fn delivered_once(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let s = secure(ctx)?;
        let id = crate::wire::fresh_id();
        let once = Delivery {
            origin_by: Some(&s.client.key),
            source: &s.client.node_id,
            origin_ts: signing::now_ms(),
            delivered_data: None,
            id: Some(id),
        };
        let (reply, _) = exchange(ctx, &delivery(&s, &once)?).await?;
        if reply.status != 1 {
            return Err(violation(
                "the handler's reply (status 1) to the first delivery",
                reply.summary(),
            ));
        }
        refused(
            ctx,
            &delivery(&s, &once)?,
            "replayed",
            None,
            "the same event in a new frame",
        )
        .await
    })
}

#[cfg(test)]
mod tests {
    use super::upper_case;

    #[test]
    fn a_kid_in_upper_case_differs_from_every_kid_and_holds_an_upper_case_letter() {
        for kid in ["00ff12ab34cd56ef", "0123456789012345", "abcdefabcdefabcd"] {
            let upper = upper_case(kid);
            assert_ne!(upper, kid);
            assert_eq!(upper.len(), kid.len());
            assert!(upper.bytes().any(|b| b.is_ascii_uppercase()), "{upper}");
        }
        assert_eq!(upper_case("0123456789012345"), "A123456789012345");
    }
}
