// schema.h - the tables of policer's database and the migrations that build them. Every
// component opens the store through open_store(), so there is one definition of the schema.
#pragma once

#include "store/database.h"

#include <string>

namespace policer::store {

// PRAGMA application_id of a policer database: "PLCR" in ASCII.
constexpr int32_t kApplicationId = 0x504c4352;

// Migrations 1..N, in order (docs/store.md describes the resulting tables).
const Schema &store_schema();

// Database::open with store_schema().
Result<Database> open_store(const std::string &path, const OpenOptions &options = {});

} // namespace policer::store
