//! The capabilities a case can require, as names the compiler checks: a
//! misspelt requirement in the case table or in a `conformance_tests!`
//! declaration is a compile error, never a case that silently skips.

use std::fmt;

use backend_core::Capabilities;

/// One flag of [`Capabilities`].
///
/// Each variant reads its own field of [`Capabilities`] in
/// [`Capability::is_set`], so a variant cannot outlive the field it names; a
/// test checks that every flag [`Capabilities::flags`] lists has a variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// [`Capabilities::execute`].
    Execute,
    /// [`Capabilities::execute_streaming`].
    ExecuteStreaming,
    /// [`Capabilities::persistent`].
    Persistent,
    /// [`Capabilities::atomic_edit`].
    AtomicEdit,
    /// [`Capabilities::empty_directories`].
    EmptyDirectories,
    /// [`Capabilities::modified_time`].
    ModifiedTime,
    /// [`Capabilities::snapshot`].
    Snapshot,
}

impl Capability {
    /// Every capability, in the order of [`Capabilities::flags`].
    pub const ALL: [Capability; 7] = [
        Capability::Execute,
        Capability::ExecuteStreaming,
        Capability::Persistent,
        Capability::AtomicEdit,
        Capability::EmptyDirectories,
        Capability::ModifiedTime,
        Capability::Snapshot,
    ];

    /// The field's name, as [`Capabilities::flags`] and the reports spell it.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Execute => "execute",
            Capability::ExecuteStreaming => "execute_streaming",
            Capability::Persistent => "persistent",
            Capability::AtomicEdit => "atomic_edit",
            Capability::EmptyDirectories => "empty_directories",
            Capability::ModifiedTime => "modified_time",
            Capability::Snapshot => "snapshot",
        }
    }

    /// Whether `caps` declares this capability.
    pub fn is_set(self, caps: &Capabilities) -> bool {
        match self {
            Capability::Execute => caps.execute,
            Capability::ExecuteStreaming => caps.execute_streaming,
            Capability::Persistent => caps.persistent,
            Capability::AtomicEdit => caps.atomic_edit,
            Capability::EmptyDirectories => caps.empty_directories,
            Capability::ModifiedTime => caps.modified_time,
            Capability::Snapshot => caps.snapshot,
        }
    }

    /// The capabilities `caps` declares, in [`Capability::ALL`] order.
    pub fn declared_by(caps: &Capabilities) -> Vec<Capability> {
        Capability::ALL
            .into_iter()
            .filter(|c| c.is_set(caps))
            .collect()
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Maps a capability's field name to its [`Capability`]; any other name is a
/// compile error ("no rules expected the token"). Used by the case table and
/// by [`conformance_tests!`](crate::conformance_tests).
#[doc(hidden)]
#[macro_export]
macro_rules! __capability {
    (execute) => {
        $crate::Capability::Execute
    };
    (execute_streaming) => {
        $crate::Capability::ExecuteStreaming
    };
    (persistent) => {
        $crate::Capability::Persistent
    };
    (atomic_edit) => {
        $crate::Capability::AtomicEdit
    };
    (empty_directories) => {
        $crate::Capability::EmptyDirectories
    };
    (modified_time) => {
        $crate::Capability::ModifiedTime
    };
    (snapshot) => {
        $crate::Capability::Snapshot
    };
}

/// `__if_declared!(cap [declared ...] { yes } { no })` expands to `yes` when
/// the field name `cap` is among the declared names and to `no` otherwise.
/// `macro_rules!` cannot compare two identifiers, so each known name gets an
/// arm that matches it literally.
#[doc(hidden)]
#[macro_export]
macro_rules! __if_declared {
    (execute [execute $($rest:ident)*] { $($yes:tt)* } $no:tt) => { $($yes)* };
    (execute_streaming [execute_streaming $($rest:ident)*] { $($yes:tt)* } $no:tt) => { $($yes)* };
    (persistent [persistent $($rest:ident)*] { $($yes:tt)* } $no:tt) => { $($yes)* };
    (atomic_edit [atomic_edit $($rest:ident)*] { $($yes:tt)* } $no:tt) => { $($yes)* };
    (empty_directories [empty_directories $($rest:ident)*] { $($yes:tt)* } $no:tt) => { $($yes)* };
    (modified_time [modified_time $($rest:ident)*] { $($yes:tt)* } $no:tt) => { $($yes)* };
    (snapshot [snapshot $($rest:ident)*] { $($yes:tt)* } $no:tt) => { $($yes)* };
    ($needle:ident [$other:ident $($rest:ident)*] $yes:tt $no:tt) => {
        $crate::__if_declared! { $needle [$($rest)*] $yes $no }
    };
    ($needle:ident [] $yes:tt { $($no:tt)* }) => { $($no)* };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Capabilities with only `capability` set.
    fn only(capability: Capability) -> Capabilities {
        let mut caps = Capabilities::default();
        match capability {
            Capability::Execute => caps.execute = true,
            Capability::ExecuteStreaming => caps.execute_streaming = true,
            Capability::Persistent => caps.persistent = true,
            Capability::AtomicEdit => caps.atomic_edit = true,
            Capability::EmptyDirectories => caps.empty_directories = true,
            Capability::ModifiedTime => caps.modified_time = true,
            Capability::Snapshot => caps.snapshot = true,
        }
        caps
    }

    #[test]
    fn every_flag_has_a_capability_reading_its_own_field() {
        let names: Vec<&str> = Capability::ALL.iter().map(|c| c.name()).collect();
        let flags: Vec<&str> = Capabilities::default()
            .flags()
            .iter()
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(
            names, flags,
            "Capability::ALL must follow Capabilities::flags"
        );
        for capability in Capability::ALL {
            let caps = only(capability);
            let set: Vec<&str> = caps
                .flags()
                .iter()
                .filter(|(_, on)| *on)
                .map(|(name, _)| *name)
                .collect();
            assert_eq!(set, [capability.name()]);
            assert_eq!(Capability::declared_by(&caps), [capability]);
        }
    }

    #[test]
    fn field_names_map_to_capabilities_and_are_compared_literally() {
        assert_eq!(
            crate::__capability!(modified_time),
            Capability::ModifiedTime
        );
        let found: bool =
            crate::__if_declared!(atomic_edit [execute atomic_edit] { true } { false });
        assert!(found);
        let found: bool =
            crate::__if_declared!(execute [execute_streaming snapshot] { true } { false });
        assert!(!found);
    }
}
