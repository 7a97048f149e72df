#pragma once
// Demo data (API.md "Demo data") and real users from the command line. Both run as the owner.
#include <ostream>
#include <string>

namespace spectra::db {
class BlockingConnection;
}

namespace spectra::seed {

// Idempotent: running it twice leaves the same data.
void demo(db::BlockingConnection& conn, std::ostream& out);

struct NewUser {
  std::string organization;  // slug or id
  std::string email, full_name, role, password;
};
// Creates a user with a policy-checked password; throws std::runtime_error with the reason.
std::string create_user(db::BlockingConnection& conn, const NewUser& u);

// Inserts a user and its email's directory entry (as the owner, no checks); answers the user's id.
std::string insert_user(db::BlockingConnection& conn, const std::string& organization_id, const std::string& email,
                        const std::string& full_name, const std::string& role, const std::string& password_hash);

}  // namespace spectra::seed
