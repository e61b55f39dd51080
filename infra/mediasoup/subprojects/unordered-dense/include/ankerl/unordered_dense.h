// Minimal stand-in for ankerl/unordered_dense.h (written for infra/mediasoup).
// Debian has no unordered_dense package; the worker only uses the names
// ankerl::unordered_dense::{map,set,hash}. They map onto abseil's flat hash
// containers: open addressing like unordered_dense, so the per-packet lookups
// (a consumer's sequence state by stream, a producer's consumers) stay flat.
// std::unordered_map (this shim's first version) put each of those behind a
// modulo and a pointer chase: ~6 % of a forwarding worker's time in one find.
// abseil keeps every guarantee unordered_dense gives (references stay valid
// until a rehash; erasing moves no other element), so code written for
// unordered_dense holds here.
#ifndef MS_ANKERL_UNORDERED_DENSE_SHIM_H
#define MS_ANKERL_UNORDERED_DENSE_SHIM_H

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <type_traits>
#include <utility>

namespace ankerl::unordered_dense
{
	namespace detail
	{
		// splitmix64's finaliser: abseil takes the hash as given, and both
		// libstdc++'s integer hash and aligned pointers leave low bits unmixed.
		inline uint64_t mix(uint64_t x) noexcept
		{
			x ^= x >> 30;
			x *= 0xbf58476d1ce4e5b9ULL;
			x ^= x >> 27;
			x *= 0x94d049bb133111ebULL;
			x ^= x >> 31;
			return x;
		}
	} // namespace detail

	template<typename T, typename Enable = void>
	struct hash : std::hash<T>
	{
	};

	template<typename T>
	struct hash<T, std::enable_if_t<std::is_integral_v<T> || std::is_enum_v<T>>>
	{
		using is_avalanching = void;

		uint64_t operator()(T v) const noexcept
		{
			return detail::mix(static_cast<uint64_t>(v));
		}
	};

	template<typename T>
	struct hash<T*>
	{
		using is_avalanching = void;

		uint64_t operator()(T* p) const noexcept
		{
			return detail::mix(reinterpret_cast<uintptr_t>(p));
		}
	};

	namespace detail
	{
		// unordered_dense's erase(iterator) returns the next iterator, which the
		// worker uses; abseil's returns nothing (and moves no other element, so
		// the next one stays valid).
		template<class Base>
		class erase_returns_next : public Base
		{
		public:
			using Base::Base;
			using Base::erase;

			typename Base::iterator erase(typename Base::iterator it)
			{
				auto next = std::next(it);
				Base::erase(it);
				return next;
			}
		};
	} // namespace detail

	template<
	  class Key,
	  class T,
	  class Hash      = hash<Key>,
	  class KeyEqual  = std::equal_to<Key>,
	  class Allocator = std::allocator<std::pair<const Key, T>>>
	using map = detail::erase_returns_next<absl::flat_hash_map<Key, T, Hash, KeyEqual, Allocator>>;

	template<class Key, class Hash = hash<Key>, class KeyEqual = std::equal_to<Key>, class Allocator = std::allocator<Key>>
	using set = detail::erase_returns_next<absl::flat_hash_set<Key, Hash, KeyEqual, Allocator>>;
} // namespace ankerl::unordered_dense

#endif
