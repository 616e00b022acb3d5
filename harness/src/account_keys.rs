//! The pre-shared keys of a client's accounts, as the harness's DTLS servers check them.
//!
//! A client must secure its session with each server using the Security Mode and keys of
//! the account paired with that server: the Bootstrap-Server Account's for the bootstrap
//! server, each LwM2M Server Account's for its server (BS-SEC-05), in separate sessions
//! (BS-SEC-01). The vectors' accounts carry abstract keying material (`KeyId`), which
//! `conformance::wire` makes concrete ([`psk_identity`], [`secret_key`]); this module says,
//! for each of the harness's servers, which identities and keys the client may present to
//! it: those of the accounts whose URI names that server in the client's configuration.

use crate::dtls::Psk;
use bootstrap_model::objects::ServerUri;
use bootstrap_model::store::ObjectStore;
use conformance::wire::{psk_identity, secret_key};

/// The server behind index `i` of the player's servers: BS, BS-alt, then DM0, DM1, ...
pub fn server_uri_of_index(i: usize) -> Option<ServerUri> {
    match i {
        0 => Some(ServerUri::Bootstrap),
        1 => Some(ServerUri::BootstrapAlternate),
        k => u8::try_from(k - 2).ok().map(ServerUri::Server),
    }
}

/// For each of the harness's servers (BS, BS-alt, DM0, ...), the PSKs it accepts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerKeys(Vec<Vec<Psk>>);

impl ServerKeys {
    /// The keys of the accounts in `stores` (the client's configuration now, and what it
    /// becomes when the step's stimulus is applied) for `servers` servers: a server accepts
    /// the PSK of every account whose URI (/0/x/0) names it (BS-SEC-05).
    pub fn of(stores: &[&ObjectStore], servers: usize) -> ServerKeys {
        let mut keys = vec![Vec::new(); servers];
        for (i, accepted) in keys.iter_mut().enumerate() {
            let Some(uri) = server_uri_of_index(i) else {
                continue;
            };
            for store in stores {
                for (_, s) in store.security.iter() {
                    if let (Some(u), Some(k)) = (s.uri, s.key) {
                        let psk = Psk {
                            identity: psk_identity(k),
                            key: secret_key(k),
                        };
                        if u == uri && !accepted.contains(&psk) {
                            accepted.push(psk);
                        }
                    }
                }
            }
        }
        ServerKeys(keys)
    }

    /// The key server `server` accepts for `identity`, if any.
    pub fn key(&self, server: usize, identity: &[u8]) -> Option<Vec<u8>> {
        self.0
            .get(server)?
            .iter()
            .find(|p| p.identity == identity)
            .map(|p| p.key.clone())
    }

    /// The identities server `server` accepts, for a diagnosis.
    pub fn identities(&self, server: usize) -> Vec<String> {
        self.0
            .get(server)
            .map(|ps| {
                ps.iter()
                    .map(|p| String::from_utf8_lossy(&p.identity).into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The PSK of the Bootstrap-Server Account in `store` (the factory's, BS-FACT-01): what a
/// launched client is given as `{bs_psk_identity}` and `{bs_psk_key_hex}`.
pub fn bootstrap_psk(store: &ObjectStore) -> Option<Psk> {
    let (_, s) = store.bootstrap_account()?;
    let k = s.key?;
    Some(Psk {
        identity: psk_identity(k),
        key: secret_key(k),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bootstrap_model::objects::{KeyId, SecurityInstance};

    #[test]
    fn each_server_accepts_its_accounts_keys_only() {
        let mut store = ObjectStore::default();
        store.security.put(
            0,
            SecurityInstance::bootstrap_account(ServerUri::Bootstrap, KeyId(100)),
        );
        store.security.put(
            1,
            SecurityInstance::server_account(ServerUri::Server(0), 101, KeyId(1)),
        );
        let keys = ServerKeys::of(&[&store], 4);
        assert_eq!(keys.key(0, b"key-100"), Some(vec![100; 16]));
        assert_eq!(keys.key(0, b"key-1"), None, "the BS takes no server key");
        assert_eq!(keys.key(2, b"key-1"), Some(vec![1; 16]));
        assert_eq!(keys.key(2, b"key-100"), None, "DM0 takes no BS key");
        assert_eq!(keys.key(3, b"key-1"), None, "DM1 has no account");
        assert_eq!(keys.key(9, b"key-1"), None);
        assert_eq!(keys.identities(2), vec!["key-1".to_string()]);
        let bs = bootstrap_psk(&store).unwrap();
        assert_eq!((bs.identity, bs.key), (b"key-100".to_vec(), vec![100; 16]));
    }
}
