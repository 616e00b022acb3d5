//! The client's object store: Security (0), Server (1), Access Control (2) and Device (3)
//! instances, plus the two derived notions every rule needs: the LwM2M Server Accounts a
//! configuration yields (BS-ACCT-01, BS-REG-02) and whether the configuration is consistent
//! (BS-FIN-02, BS-FIN-03, ambiguity A-04).

use crate::objects::{
    AccessControlInstance, SecurityInstance, ServerInstance, ServerUri, ShortServerId,
};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::fmt;

/// Instances of one object, sorted by instance ID. A sorted vector, inline up to four
/// instances, is smaller and faster to hash and copy than a map at the sizes the model
/// reaches (a handful of instances), and copying a state does not allocate.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Instances<T>(SmallVec<[(u16, T); 4]>);

impl<T> Default for Instances<T> {
    fn default() -> Self {
        Instances(SmallVec::new())
    }
}

impl<T> Instances<T> {
    /// The instance with ID `iid`.
    pub fn get(&self, iid: u16) -> Option<&T> {
        self.0
            .binary_search_by_key(&iid, |(i, _)| *i)
            .ok()
            .map(|k| &self.0[k].1)
    }

    /// Mutable access to instance `iid`.
    pub fn get_mut(&mut self, iid: u16) -> Option<&mut T> {
        match self.0.binary_search_by_key(&iid, |(i, _)| *i) {
            Ok(k) => Some(&mut self.0[k].1),
            Err(_) => None,
        }
    }

    /// Creates or replaces instance `iid`.
    pub fn put(&mut self, iid: u16, value: T) {
        match self.0.binary_search_by_key(&iid, |(i, _)| *i) {
            Ok(k) => self.0[k].1 = value,
            Err(k) => self.0.insert(k, (iid, value)),
        }
    }

    /// Removes instance `iid`; returns whether it existed.
    pub fn remove(&mut self, iid: u16) -> bool {
        match self.0.binary_search_by_key(&iid, |(i, _)| *i) {
            Ok(k) => {
                self.0.remove(k);
                true
            }
            Err(_) => false,
        }
    }

    /// Keeps only the instances for which `keep` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(u16, &T) -> bool) {
        self.0.retain(|(i, v)| keep(*i, v));
    }

    /// Iterates over `(instance ID, instance)` in ID order.
    pub fn iter(&self) -> impl Iterator<Item = (u16, &T)> {
        self.0.iter().map(|(i, v)| (*i, v))
    }

    /// Mutable iteration in ID order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (u16, &mut T)> {
        self.0.iter_mut().map(|(i, v)| (*i, v))
    }

    /// Instance IDs in order.
    pub fn ids(&self) -> impl Iterator<Item = u16> + '_ {
        self.0.iter().map(|(i, _)| *i)
    }

    /// Number of instances.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no instance.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The objects a client holds. The Device object is reduced to the presence of /3/0, the one
/// instance that no Bootstrap-Delete may remove (BS-DEL-03).
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct ObjectStore {
    /// Security object (0) instances.
    pub security: Instances<SecurityInstance>,
    /// Server object (1) instances.
    pub server: Instances<ServerInstance>,
    /// Access Control object (2) instances.
    pub access_control: Instances<AccessControlInstance>,
    /// Whether the Device instance /3/0 exists.
    pub device: bool,
}

/// A LwM2M Server Account as the configuration yields it: a Security instance with /0/x/1 =
/// false and a Server instance carrying the same Short Server ID (BS-ACCT-01, BS-REG-02).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServerAccount {
    /// The shared Short Server ID.
    pub ssid: ShortServerId,
    /// Instance ID of the Security half.
    pub security_iid: u16,
    /// Instance ID of the Server half.
    pub server_iid: u16,
    /// The URI to register with.
    pub uri: ServerUri,
    /// The Server instance's lifetime (`lt` of Register, BS-REG-03).
    pub lifetime: u32,
    /// /1/y/16, absent meaning true (BS-RB-05).
    pub bootstrap_on_failure: bool,
}

/// Why a configuration is not acceptable at Bootstrap-Finish (BS-FIN-02/03, A-04).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Inconsistency {
    /// No complete LwM2M Server Account (BS-ACCT-06; ETS int-9).
    NoServerAccount,
    /// More than one Bootstrap-Server Account (BS-ACCT-04, BS-WRITE-08).
    TwoBootstrapAccounts,
    /// Two Security or two Server instances share a Short Server ID (BS-ACCT-02).
    DuplicateShortServerId(ShortServerId),
    /// A Short Server ID is 0 or 65535, or a server's Security instance has none (BS-ACCT-02).
    ReservedShortServerId,
    /// A Security or Server instance has no partner or misses mandatory resources. The
    /// specification leaves this check to the client: only a strict client reports it.
    UnpairedOrIncomplete,
    /// More than one LwM2M Server Account on a client without the Access Control object,
    /// which supports a single server only (BS-OBJ-05, Core 1.2 §6.1.5). Not found by
    /// [`ObjectStore::consistency`], which knows no client features: the client checks it.
    MultiServerWithoutAccessControl,
}

impl fmt::Display for Inconsistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inconsistency::NoServerAccount => write!(f, "no complete LwM2M Server Account"),
            Inconsistency::TwoBootstrapAccounts => write!(f, "two Bootstrap-Server Accounts"),
            Inconsistency::DuplicateShortServerId(s) => write!(f, "Short Server ID {s} used twice"),
            Inconsistency::ReservedShortServerId => {
                write!(f, "reserved or missing Short Server ID")
            }
            Inconsistency::UnpairedOrIncomplete => {
                write!(f, "unpaired or incomplete Security/Server instance")
            }
            Inconsistency::MultiServerWithoutAccessControl => {
                write!(
                    f,
                    "several server accounts without the Access Control object"
                )
            }
        }
    }
}

impl ObjectStore {
    /// The Bootstrap-Server Account: the first Security instance with /0/x/1 = true.
    pub fn bootstrap_account(&self) -> Option<(u16, &SecurityInstance)> {
        self.security.iter().find(|(_, s)| s.is_bootstrap())
    }

    /// Number of Bootstrap-Server Accounts (at most one in a consistent store, BS-ACCT-04).
    pub fn bootstrap_account_count(&self) -> usize {
        self.security
            .iter()
            .filter(|(_, s)| s.is_bootstrap())
            .count()
    }

    /// The LwM2M Server Accounts of this configuration, in Security instance order: every
    /// complete non-bootstrap Security instance paired with the first complete Server instance
    /// that carries its Short Server ID (BS-ACCT-01, BS-REG-02).
    pub fn server_accounts(&self) -> Vec<ServerAccount> {
        let mut out = Vec::new();
        for (siid, sec) in self.security.iter() {
            if sec.is_bootstrap() || !sec.is_complete() {
                continue;
            }
            let (Some(ssid), Some(uri)) = (sec.ssid, sec.uri) else {
                continue;
            };
            if ssid == 0 || ssid == 65535 {
                continue;
            }
            if let Some((yiid, srv)) = self
                .server
                .iter()
                .find(|(_, s)| s.is_complete() && s.ssid == Some(ssid))
            {
                out.push(ServerAccount {
                    ssid,
                    security_iid: siid,
                    server_iid: yiid,
                    uri,
                    lifetime: srv.lifetime.unwrap_or(0),
                    bootstrap_on_failure: srv.bootstrap_on_failure.unwrap_or(true),
                });
            }
        }
        out
    }

    /// Checks the configuration as Bootstrap-Finish must (BS-FIN-02, BS-FIN-03). The checks
    /// every client must make come first; `strict` adds the checks A-04 leaves to the client
    /// (unpaired or incomplete Security/Server instances).
    pub fn consistency(&self, strict: bool) -> Result<(), Inconsistency> {
        if self.bootstrap_account_count() > 1 {
            return Err(Inconsistency::TwoBootstrapAccounts);
        }
        let mut sec_ids: Vec<ShortServerId> = Vec::new();
        for (_, s) in self.security.iter().filter(|(_, s)| !s.is_bootstrap()) {
            match s.ssid {
                None | Some(0) | Some(65535) if s.bootstrap == Some(false) => {
                    return Err(Inconsistency::ReservedShortServerId)
                }
                Some(id) if sec_ids.contains(&id) => {
                    return Err(Inconsistency::DuplicateShortServerId(id))
                }
                Some(id) => sec_ids.push(id),
                None => {}
            }
        }
        let mut srv_ids: Vec<ShortServerId> = Vec::new();
        for (_, s) in self.server.iter() {
            match s.ssid {
                Some(0) | Some(65535) => return Err(Inconsistency::ReservedShortServerId),
                Some(id) if srv_ids.contains(&id) => {
                    return Err(Inconsistency::DuplicateShortServerId(id))
                }
                Some(id) => srv_ids.push(id),
                None => {}
            }
        }
        let accounts = self.server_accounts();
        if accounts.is_empty() {
            return Err(Inconsistency::NoServerAccount);
        }
        if strict {
            let paired_sec = self
                .security
                .iter()
                .filter(|(_, s)| !s.is_bootstrap())
                .count();
            if paired_sec != accounts.len()
                || self.server.len() != accounts.len()
                || self.security.iter().any(|(_, s)| !s.is_complete())
            {
                return Err(Inconsistency::UnpairedOrIncomplete);
            }
        }
        Ok(())
    }

    /// The information related to server `ssid` that the seed's cascade removes with its
    /// account (BS-WIPE-01, BS-KEEP-01). "Related" is, by this suite's decision:
    /// 1. the Server instances carrying `ssid` (the rest of the account in 1.x terms);
    /// 2. the Access Control instances owned by `ssid` (/2/z/3 = ssid);
    /// 3. the Access Control instances governing a Server instance of item 1 (they protect an
    ///    instance that no longer exists);
    /// 4. the ACL entries for `ssid` (/2/z/2/ssid) in every other Access Control instance.
    ///
    /// Reason: the seed names ACLs as the example of related information; in the object model
    /// an ACL ties to a server through its owner and through its per-server entries, and the
    /// Server instance is the part of the account the seed's single "Server Account Object"
    /// later split off. The Device instance is shared by all servers and is never related.
    /// Observations and attributes are not part of the bootstrap model (A-03 leaves them open).
    pub fn related_snapshot(&self, ssid: ShortServerId) -> RelatedInfo {
        let server_iids: Vec<u16> = self
            .server
            .iter()
            .filter(|(_, s)| s.ssid == Some(ssid))
            .map(|(i, _)| i)
            .collect();
        let mut servers = Vec::new();
        for (i, s) in self.server.iter() {
            if s.ssid == Some(ssid) {
                servers.push((i, *s));
            }
        }
        let mut acls = Vec::new();
        for (i, a) in self.access_control.iter() {
            let governs = a.object == crate::path::SERVER && server_iids.contains(&a.instance);
            if a.relates_to(ssid) || governs {
                acls.push((i, a.clone()));
            }
        }
        RelatedInfo { servers, acls }
    }

    /// Removes the information related to `ssid` (see [`ObjectStore::related_snapshot`]).
    pub fn remove_related(&mut self, ssid: ShortServerId) {
        let server_iids: Vec<u16> = self
            .server
            .iter()
            .filter(|(_, s)| s.ssid == Some(ssid))
            .map(|(i, _)| i)
            .collect();
        self.server.retain(|_, s| s.ssid != Some(ssid));
        self.access_control.retain(|_, a| {
            a.owner != ssid
                && !(a.object == crate::path::SERVER && server_iids.contains(&a.instance))
        });
        for (_, a) in self.access_control.iter_mut() {
            a.acl.retain(|(s, _)| *s != ssid);
        }
    }

    /// Whether anything related to `ssid` is left (used by the BS-WIPE-01 property).
    pub fn has_related(&self, ssid: ShortServerId) -> bool {
        !self.related_snapshot(ssid).is_empty()
    }

    /// The Short Server IDs of the non-bootstrap Security instances.
    pub fn security_ssids(&self) -> Vec<ShortServerId> {
        self.security
            .iter()
            .filter(|(_, s)| !s.is_bootstrap())
            .filter_map(|(_, s)| s.ssid)
            .collect()
    }
}

/// The information related to one server, as [`ObjectStore::related_snapshot`] defines it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RelatedInfo {
    /// Server instances carrying the SSID.
    pub servers: Vec<(u16, ServerInstance)>,
    /// Access Control instances owned by, naming, or governing the server.
    pub acls: Vec<(u16, AccessControlInstance)>,
}

impl RelatedInfo {
    /// Whether nothing is related.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty() && self.acls.is_empty()
    }
}
