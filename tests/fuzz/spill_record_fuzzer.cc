// libFuzzer target for the spill tier's record decoder (storage/spill_codec.h), which reads bytes
// from disk that a crash, a bug or another program may have damaged. Properties: no crash, no
// sanitizer report; an accepted record's header reads on its own (SpillRecordExpireAt) with the
// same expiry; and the entry it gives encodes to a record that is accepted again, with the same
// type, expiry and length.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "storage/entry.h"
#include "storage/spill_codec.h"

using strata::storage::DecodeSpillRecord;
using strata::storage::EncodeSpillRecord;
using strata::storage::Entry;
using strata::storage::SpillRecordExpireAt;
using strata::storage::ValueLimits;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view record(reinterpret_cast<const char*>(data), size);
  auto entry = DecodeSpillRecord("key", record, ValueLimits());
  if (!entry.ok()) return 0;
  auto expire_at = SpillRecordExpireAt(record);
  if (!expire_at.ok() || *expire_at != (*entry)->expire_at_ms()) abort();
  const std::string again = EncodeSpillRecord(**entry);
  auto second = DecodeSpillRecord("key", again, ValueLimits());
  if (!second.ok()) abort();
  if ((*second)->type() != (*entry)->type() || (*second)->expire_at_ms() != (*entry)->expire_at_ms() ||
      EncodeSpillRecord(**second).size() != again.size()) {
    abort();
  }
  Entry::Free(*second);
  Entry::Free(*entry);
  return 0;
}
