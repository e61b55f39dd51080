// Minimal stand-in for ankerl/unordered_dense.h (written for infra/mediasoup).
// Debian has no unordered_dense package; the worker only uses the names
// ankerl::unordered_dense::{map,set,hash}, which this maps onto the standard
// containers (std iterator/reference guarantees are a superset of unordered_dense's).
#ifndef MS_ANKERL_UNORDERED_DENSE_SHIM_H
#define MS_ANKERL_UNORDERED_DENSE_SHIM_H

#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace ankerl::unordered_dense
{
	// Integers get a 64-bit mix (splitmix64 finaliser) since libstdc++'s std::hash
	// is the identity for them and the worker combines these hashes; everything
	// else uses std::hash.
	template<typename T, typename Enable = void>
	struct hash : std::hash<T>
	{
	};

	template<typename T>
	struct hash<T, std::enable_if_t<std::is_integral_v<T>>>
	{
		using is_avalanching = void;

		uint64_t operator()(T v) const noexcept
		{
			uint64_t x = static_cast<uint64_t>(v);
			x ^= x >> 30;
			x *= 0xbf58476d1ce4e5b9ULL;
			x ^= x >> 27;
			x *= 0x94d049bb133111ebULL;
			x ^= x >> 31;
			return x;
		}
	};

	template<
	  class Key,
	  class T,
	  class Hash      = hash<Key>,
	  class KeyEqual  = std::equal_to<Key>,
	  class Allocator = std::allocator<std::pair<const Key, T>>>
	using map = std::unordered_map<Key, T, Hash, KeyEqual, Allocator>;

	template<class Key, class Hash = hash<Key>, class KeyEqual = std::equal_to<Key>, class Allocator = std::allocator<Key>>
	using set = std::unordered_set<Key, Hash, KeyEqual, Allocator>;
} // namespace ankerl::unordered_dense

#endif
