// libsrtp 3 API adapter over Debian's libsrtp 2 (written for infra/mediasoup).
//
// mediasoup 3.27.1 is written against versatica's libsrtp 3 fork: opaque
// policies built with srtp_policy_*() setters and protect/unprotect functions
// with a separate output buffer and size_t lengths. This header maps exactly
// the calls the worker makes onto the libsrtp 2 API (srtp_policy_t struct,
// in-place protect with int lengths). C++ only (the worker includes it from C++).
#ifndef MS_SRTP3_ADAPTER_H
#define MS_SRTP3_ADAPTER_H

// libsrtp 2 names its policy struct srtp_policy_t; libsrtp 3 uses that name for
// an opaque pointer. Rename the libsrtp 2 one while including its header.
#define srtp_policy_t srtp2_policy_t
#include <srtp2/srtp.h>
#undef srtp_policy_t

#include <cstddef>
#include <cstdint>
#include <cstring>

// Error codes added in libsrtp 3.
static constexpr srtp_err_status_t srtp_err_status_buffer_small = static_cast<srtp_err_status_t>(28);
static constexpr srtp_err_status_t srtp_err_status_cryptex_err  = static_cast<srtp_err_status_t>(29);

struct ms_srtp3_policy
{
	srtp2_policy_t policy;
	unsigned char key[SRTP_MAX_KEY_LEN];
};

typedef ms_srtp3_policy* srtp_policy_t;

inline srtp_err_status_t srtp_policy_create(srtp_policy_t* out)
{
	if (!out)
		return srtp_err_status_bad_param;
	auto* p = new ms_srtp3_policy();
	std::memset(p, 0, sizeof(*p));
	p->policy.window_size = 128;
	*out                  = p;
	return srtp_err_status_ok;
}

inline void srtp_policy_destroy(srtp_policy_t p)
{
	if (p)
	{
		std::memset(p->key, 0, sizeof(p->key));
		delete p;
	}
}

inline srtp_err_status_t srtp_policy_set_ssrc(srtp_policy_t p, srtp_ssrc_t ssrc)
{
	p->policy.ssrc = ssrc;
	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_policy_set_profile(srtp_policy_t p, srtp_profile_t profile)
{
	srtp_err_status_t err = srtp_crypto_policy_set_from_profile_for_rtp(&p->policy.rtp, profile);
	if (err != srtp_err_status_ok)
		return err;
	return srtp_crypto_policy_set_from_profile_for_rtcp(&p->policy.rtcp, profile);
}

// libsrtp 2 wants master key and salt concatenated in one buffer.
inline srtp_err_status_t srtp_policy_add_key(
  srtp_policy_t p,
  const uint8_t* key,
  size_t keyLen,
  const uint8_t* salt,
  size_t saltLen,
  const uint8_t* /*mki*/,
  size_t mkiLen)
{
	if (mkiLen != 0 || keyLen + saltLen > sizeof(p->key))
		return srtp_err_status_bad_param;
	std::memcpy(p->key, key, keyLen);
	std::memcpy(p->key + keyLen, salt, saltLen);
	p->policy.key = p->key;
	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_policy_set_allow_repeat_tx(srtp_policy_t p, bool allow)
{
	p->policy.allow_repeat_tx = allow ? 1 : 0;
	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_policy_set_window_size(srtp_policy_t p, size_t size)
{
	p->policy.window_size = static_cast<unsigned long>(size);
	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_create(srtp_t* session, srtp_policy_t p)
{
	return srtp_create(session, &p->policy);
}

// Renamed in libsrtp 3.
inline srtp_err_status_t srtp_stream_remove(srtp_t session, uint32_t ssrc)
{
	return srtp_remove_stream(session, ssrc);
}

namespace ms_srtp3
{
	// Copy |in| to |out| (if distinct) and run libsrtp 2's in-place |fn| there.
	template<typename Fn>
	inline srtp_err_status_t InPlace(
	  Fn fn, srtp_t ctx, const uint8_t* in, size_t inLen, uint8_t* out, size_t* outLen, size_t room)
	{
		if (inLen > 0x7fffffff || *outLen < inLen + room)
			return srtp_err_status_buffer_small;
		if (out != in)
			std::memmove(out, in, inLen);
		int len                     = static_cast<int>(inLen);
		const srtp_err_status_t err = fn(ctx, out, &len);
		if (err == srtp_err_status_ok)
			*outLen = static_cast<size_t>(len);
		return err;
	}
} // namespace ms_srtp3

inline srtp_err_status_t srtp_protect(
  srtp_t ctx, const uint8_t* rtp, size_t rtpLen, uint8_t* srtp, size_t* srtpLen, size_t /*mkiIndex*/)
{
	return ms_srtp3::InPlace(
	  static_cast<srtp_err_status_t (*)(srtp_t, void*, int*)>(srtp_protect),
	  ctx, rtp, rtpLen, srtp, srtpLen, SRTP_MAX_TRAILER_LEN);
}

inline srtp_err_status_t srtp_unprotect(
  srtp_t ctx, const uint8_t* srtp, size_t srtpLen, uint8_t* rtp, size_t* rtpLen)
{
	return ms_srtp3::InPlace(
	  static_cast<srtp_err_status_t (*)(srtp_t, void*, int*)>(srtp_unprotect),
	  ctx, srtp, srtpLen, rtp, rtpLen, 0);
}

inline srtp_err_status_t srtp_protect_rtcp(
  srtp_t ctx, const uint8_t* rtcp, size_t rtcpLen, uint8_t* srtcp, size_t* srtcpLen, size_t /*mkiIndex*/)
{
	return ms_srtp3::InPlace(
	  static_cast<srtp_err_status_t (*)(srtp_t, void*, int*)>(srtp_protect_rtcp),
	  ctx, rtcp, rtcpLen, srtcp, srtcpLen, SRTP_MAX_TRAILER_LEN + 4);
}

inline srtp_err_status_t srtp_unprotect_rtcp(
  srtp_t ctx, const uint8_t* srtcp, size_t srtcpLen, uint8_t* rtcp, size_t* rtcpLen)
{
	return ms_srtp3::InPlace(
	  static_cast<srtp_err_status_t (*)(srtp_t, void*, int*)>(srtp_unprotect_rtcp),
	  ctx, srtcp, srtcpLen, rtcp, rtcpLen, 0);
}

#endif
