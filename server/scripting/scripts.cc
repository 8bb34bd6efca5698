#include "server/scripting/scripts.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "storage/clock.h"
#include "server/absl_compat.h"
#include "server/scripting/sha1.h"

namespace strata::server::scripting {

namespace {
constexpr std::string_view kBusyScriptError =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
constexpr std::string_view kBusyFunctionError =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
}  // namespace

std::string Scripts::Store(std::string_view body) {
  std::string sha = Sha1Hex(body);
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = bodies_.try_emplace(sha, nullptr);
  if (inserted) {
    it->second = std::make_shared<const std::string>(body);
    body_bytes_ += body.size();
  }
  return sha;
}

std::optional<std::string> Scripts::Find(std::string_view sha) const {
  if (sha.size() != 40) return std::nullopt;
  std::string lower = absl::AsciiStrToLower(Absl(sha));
  absl::MutexLock lock(&mu_);
  auto it = bodies_.find(lower);
  if (it == bodies_.end()) return std::nullopt;
  return *it->second;
}

bool Scripts::Exists(std::string_view sha) const { return Find(sha).has_value(); }

void Scripts::Flush() {
  absl::MutexLock lock(&mu_);
  bodies_.clear();
  body_bytes_ = 0;
  generation_.fetch_add(1, std::memory_order_release);
}

size_t Scripts::count() const {
  absl::MutexLock lock(&mu_);
  return bodies_.size();
}

size_t Scripts::body_bytes() const {
  absl::MutexLock lock(&mu_);
  return body_bytes_;
}

void Scripts::Started(RunningScript* run) {
  absl::MutexLock lock(&mu_);
  running_.push_back(run);
}

void Scripts::Ended(RunningScript* run) {
  absl::MutexLock lock(&mu_);
  running_.erase(std::remove(running_.begin(), running_.end(), run), running_.end());
}

absl::Status Scripts::Kill(bool functions) {
  absl::MutexLock lock(&mu_);
  std::vector<RunningScript*> targets;
  for (RunningScript* run : running_) {
    if (run->is_function == functions) targets.push_back(run);
  }
  if (targets.empty() && !running_.empty()) {
    // The other kind runs: Redis points at the right KILL.
    return absl::FailedPreconditionError(Absl(functions ? kBusyScriptError : kBusyFunctionError));
  }
  if (targets.empty()) return absl::FailedPreconditionError("NOTBUSY No scripts in execution right now.");
  for (RunningScript* run : targets) {
    if (run->wrote.load()) {
      return absl::FailedPreconditionError(
          "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the "
          "script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
    }
  }
  for (RunningScript* run : targets) run->kill_requested.store(true);
  return absl::OkStatus();
}

void Scripts::KillAll() {
  absl::MutexLock lock(&mu_);
  for (RunningScript* run : running_) run->kill_requested.store(true);
}

std::string_view Scripts::BusyError() const {
  absl::MutexLock lock(&mu_);
  for (RunningScript* run : running_) {
    if (run->busy.load() && run->is_function) return kBusyFunctionError;
  }
  return kBusyScriptError;
}

bool Scripts::DescribeRunning(std::string* name, std::vector<std::string>* command, int64_t* duration_ms) const {
  absl::MutexLock lock(&mu_);
  if (running_.empty()) return false;
  *name = std::string(running_.front()->name);
  command->assign(running_.front()->command.begin(), running_.front()->command.end());
  *duration_ms = storage::NowMs() - running_.front()->start_ms;
  return true;
}

uint32_t ScriptFlagBit(std::string_view name) {
  for (size_t i = 0; i < std::size(kScriptFlagNames); ++i) {
    if (absl::EqualsIgnoreCase(Absl(name), Absl(kScriptFlagNames[i]))) return uint32_t{1} << i;
  }
  return 0;
}

absl::Status Scripts::AddLibrary(FunctionLibrary library, bool replace, bool quote_name) {
  absl::MutexLock lock(&mu_);
  auto same = std::find_if(libraries_.begin(), libraries_.end(), [&](const FunctionLibrary& l) { return l.name == library.name; });
  if (same != libraries_.end() && !replace) {
    return absl::AlreadyExistsError(quote_name ? absl::StrCat("ERR Library '", library.name, "' already exists")
                                               : absl::StrCat("ERR Library ", library.name, " already exists"));
  }
  for (const FunctionLibrary& other : libraries_) {
    if (other.name == library.name) continue;
    for (const FunctionInfo& taken : other.functions) {
      for (const FunctionInfo& wanted : library.functions) {
        if (absl::EqualsIgnoreCase(taken.name, wanted.name)) {
          return absl::AlreadyExistsError(absl::StrCat("ERR Function ", wanted.name, " already exists"));
        }
      }
    }
  }
  if (same != libraries_.end()) {
    *same = std::move(library);
  } else {
    libraries_.push_back(std::move(library));
  }
  functions_generation_.fetch_add(1, std::memory_order_release);
  return absl::OkStatus();
}

bool Scripts::DeleteLibrary(std::string_view name) {
  absl::MutexLock lock(&mu_);
  auto it = std::find_if(libraries_.begin(), libraries_.end(), [&](const FunctionLibrary& l) { return l.name == name; });
  if (it == libraries_.end()) return false;
  libraries_.erase(it);
  functions_generation_.fetch_add(1, std::memory_order_release);
  return true;
}

void Scripts::FlushLibraries() {
  absl::MutexLock lock(&mu_);
  libraries_.clear();
  functions_generation_.fetch_add(1, std::memory_order_release);
}

std::vector<FunctionLibrary> Scripts::Libraries() const {
  absl::MutexLock lock(&mu_);
  return libraries_;
}

bool Scripts::FindFunction(std::string_view name, FunctionInfo* info) const {
  absl::MutexLock lock(&mu_);
  for (const FunctionLibrary& library : libraries_) {
    for (const FunctionInfo& function : library.functions) {
      if (absl::EqualsIgnoreCase(function.name, Absl(name))) {
        *info = function;
        return true;
      }
    }
  }
  return false;
}

namespace {

// The first line if the text starts with "#!", and the rest with that line blanked.
bool SplitShebang(std::string_view text, std::string_view* line, std::string* rest) {
  if (text.substr(0, 2) != "#!") return false;
  const size_t end = text.find('\n');
  *line = text.substr(0, end);
  *rest = end == std::string_view::npos ? std::string() : std::string(text.substr(end));
  return true;
}

bool IsMetadataSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

}  // namespace

bool EqualsAsciiCaseless(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(Absl(a), Absl(b));
}

bool ValidFunctionName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

std::vector<std::string_view> SplitWords(std::string_view line) {
  std::vector<std::string_view> words;
  size_t at = 0;
  while (at < line.size()) {
    if (IsMetadataSpace(line[at])) {
      ++at;
      continue;
    }
    size_t end = at;
    while (end < line.size() && !IsMetadataSpace(line[end])) ++end;
    words.push_back(line.substr(at, end - at));
    at = end;
  }
  return words;
}

absl::StatusOr<LibraryMetadata> ParseLibraryMetadata(std::string_view code) {
  std::string_view line;
  LibraryMetadata metadata;
  if (!SplitShebang(code, &line, &metadata.code_to_compile)) {
    return absl::InvalidArgumentError("ERR Missing library metadata");
  }
  if (line.size() == code.size()) return absl::InvalidArgumentError("ERR Invalid library metadata");
  // As Redis: "#!<engine>" is the first word (so "#! lua" names engine ""), the name is checked
  // before the engine.
  std::vector<std::string_view> words = SplitWords(line);
  const std::string_view engine = words.empty() ? std::string_view() : words[0].substr(2);
  bool named = false;
  for (size_t i = 1; i < words.size(); ++i) {
    if (words[i].substr(0, 5) != "name=") {
      return absl::InvalidArgumentError(absl::StrCat("ERR Invalid metadata value given: ", Absl(words[i])));
    }
    if (named) return absl::InvalidArgumentError("ERR Invalid metadata value, name argument was given multiple times");
    metadata.name = std::string(words[i].substr(5));
    named = true;
  }
  if (!named) return absl::InvalidArgumentError("ERR Library name was not given");
  if (!EqualsAsciiCaseless(engine, "lua")) {
    return absl::InvalidArgumentError(absl::StrCat("ERR Engine '", Absl(engine), "' not found"));
  }
  if (!ValidFunctionName(metadata.name)) {
    return absl::InvalidArgumentError(
        "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long");
  }
  return metadata;
}

absl::Status ParseScriptShebang(std::string_view body, std::string* code_to_compile, ScriptFlags* flags) {
  std::string_view line;
  *flags = ScriptFlags{};
  if (!SplitShebang(body, &line, code_to_compile)) {
    code_to_compile->assign(body);
    return absl::OkStatus();
  }
  if (line.size() == body.size()) return absl::InvalidArgumentError("ERR Invalid script shebang");
  flags->shebang = true;
  const std::vector<std::string_view> words = SplitWords(line);
  if (words.empty() || words[0] != "#!lua") {
    return absl::InvalidArgumentError(
        absl::StrCat("ERR Unexpected engine in script shebang: ", Absl(words.empty() ? line : words[0])));
  }
  for (size_t i = 1; i < words.size(); ++i) {
    if (words[i].substr(0, 6) != "flags=") {
      return absl::InvalidArgumentError(absl::StrCat("ERR Unknown lua shebang option: ", Absl(words[i])));
    }
    std::string_view list = words[i].substr(6);
    while (!list.empty()) {
      const size_t comma = list.find(',');
      const std::string_view flag = list.substr(0, comma);
      if (flag == "no-writes") {
        flags->no_writes = true;
      } else if (flag != "allow-oom" && flag != "allow-stale" && flag != "no-cluster" &&
                 flag != "allow-cross-slot-keys") {
        return absl::InvalidArgumentError(absl::StrCat("ERR Unexpected flag in script shebang: ", Absl(flag)));
      }
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
  }
  return absl::OkStatus();
}

}  // namespace strata::server::scripting
