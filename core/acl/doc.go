// Package acl implements ZooKeeper's access control: the world, auth,
// digest, ip and super schemes, the permission check, the ACL fix-up done on
// create and setACL, and the getACL masking of digest hashes.
//
// It imports core/proto only.
package acl
