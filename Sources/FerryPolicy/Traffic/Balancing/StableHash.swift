/// A 64-bit hash that is the same in every process and on every node, unlike
/// Swift's seeded `Hasher`: consistent hashing must send a key to the same
/// endpoint whichever agent (or restart) computes it. FNV-1a over the bytes,
/// then the MurmurHash3 finalizer to spread FNV's weak low bits.
enum StableHash {
    static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        hash ^= hash >> 33
        hash &*= 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        hash &*= 0xc4ce_b9fe_1a85_ec53
        hash ^= hash >> 33
        return hash
    }

    static func hash(_ text: String) -> UInt64 { hash(text.utf8) }
}
