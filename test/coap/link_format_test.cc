// RFC 6690 link format of a resource directory, with query filtering
// (RFC 6690 4.1: one "name=value" item, value optionally ending in '*').
#include <gtest/gtest.h>

#include "coap/builtin_resources.h"
#include "coap/resource.h"
#include "test/coap/test_util.h"

namespace coap {
namespace {

class Fixed final : public Resource {
 public:
  Fixed(std::string path, std::vector<std::pair<std::string, std::string>> attrs)
      : Resource(std::move(path), std::move(attrs)) {}
  bool allows(Code m) const override { return m == codes::kGet; }
  void handle(const Request&, Response& resp) override { resp.set_payload("x"); }
};

class LinkFormatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.add(std::make_unique<Fixed>(
        "/.well-known/core", std::vector<std::pair<std::string, std::string>>{{"ct", "40"}}));
    dir_.add(std::make_unique<Fixed>(
        "/sensors/temp",
        std::vector<std::pair<std::string, std::string>>{
            {"rt", "\"temperature-c sensor\""}, {"if", "\"sensor\""}, {"ct", "0"}}));
    dir_.add(std::make_unique<Fixed>("/sensors/light",
                                     std::vector<std::pair<std::string, std::string>>{
                                         {"rt", "\"light-lux sensor\""}, {"obs", ""}}));
    dir_.add(std::make_unique<Fixed>("/t", std::vector<std::pair<std::string, std::string>>{}));
  }
  ResourceDirectory dir_;
};

TEST_F(LinkFormatTest, ListsEverythingButWellKnown) {
  EXPECT_EQ(link_format(dir_, ""), R"(</sensors/temp>;rt="temperature-c sensor";if="sensor";ct=0,)"
                                   R"(</sensors/light>;rt="light-lux sensor";obs,</t>)");
}

TEST_F(LinkFormatTest, HrefFilter) {
  EXPECT_EQ(link_format(dir_, "href=/sensors/light"),
            R"(</sensors/light>;rt="light-lux sensor";obs)");
  EXPECT_EQ(link_format(dir_, "href=/t"), "</t>");
  EXPECT_EQ(link_format(dir_, "href=/s*"),
            R"(</sensors/temp>;rt="temperature-c sensor";if="sensor";ct=0,)"
            R"(</sensors/light>;rt="light-lux sensor";obs)");
  EXPECT_EQ(link_format(dir_, "href=*"), link_format(dir_, ""));
  EXPECT_EQ(link_format(dir_, "href=/sensors"), "");
}

TEST_F(LinkFormatTest, AttributeFiltersMatchAnyWord) {
  // RFC 6690 example: rt="temperature-c sensor" matches rt=sensor.
  EXPECT_EQ(link_format(dir_, "rt=sensor"),
            R"(</sensors/temp>;rt="temperature-c sensor";if="sensor";ct=0,)"
            R"(</sensors/light>;rt="light-lux sensor";obs)");
  EXPECT_EQ(link_format(dir_, "rt=temperature-c"),
            R"(</sensors/temp>;rt="temperature-c sensor";if="sensor";ct=0)");
  EXPECT_EQ(link_format(dir_, "rt=light*"), R"(</sensors/light>;rt="light-lux sensor";obs)");
  EXPECT_EQ(link_format(dir_, "rt=temp"), "");
  EXPECT_EQ(link_format(dir_, "ct=0"),
            R"(</sensors/temp>;rt="temperature-c sensor";if="sensor";ct=0)");
  EXPECT_EQ(link_format(dir_, "if=sensor"),
            R"(</sensors/temp>;rt="temperature-c sensor";if="sensor";ct=0)");
  EXPECT_EQ(link_format(dir_, "obs"), R"(</sensors/light>;rt="light-lux sensor";obs)");
  EXPECT_EQ(link_format(dir_, "sz=10"), "");
}

// Found by the link_format_query fuzz target: "obs=" listed the resource
// with the valueless attribute obs, "obs=*" did not, although a '*' makes
// the value a prefix (RFC 6690 4.1) and "" is a prefix of "".
TEST_F(LinkFormatTest, PrefixFilterListsWhatTheExactOneDoes) {
  const std::string light = R"(</sensors/light>;rt="light-lux sensor";obs)";
  EXPECT_EQ(link_format(dir_, "obs="), light);
  EXPECT_EQ(link_format(dir_, "obs=*"), light);
  EXPECT_EQ(link_format(dir_, "rt=*"), link_format(dir_, "rt=sensor"));
}

TEST(ResourceDirectoryTest, FindsByExactPath) {
  ResourceDirectory dir;
  add_builtin_resources(dir, {});
  EXPECT_EQ(dir.all().size(), 5u);
  ASSERT_NE(dir.find("/time"), nullptr);
  EXPECT_EQ(dir.find("/time")->segments(), (std::vector<std::string>{"time"}));
  EXPECT_TRUE(dir.find("/time")->observable());
  EXPECT_TRUE(dir.find("/echo")->observable());
  EXPECT_FALSE(dir.find("/status")->observable());
  EXPECT_EQ(dir.find("/.well-known/core")->segments(),
            (std::vector<std::string>{".well-known", "core"}));
  EXPECT_TRUE(dir.find("/")->segments().empty());
  EXPECT_EQ(dir.find("/nope"), nullptr);
  test::Parsed root(Type::kCon, codes::kGet, 1, Token{}, {});
  EXPECT_EQ(dir.find(root.msg()), dir.find("/"));
  test::Parsed wk(Type::kCon, codes::kGet, 1, Token{}, test::path_opts("/.well-known/core"));
  EXPECT_EQ(dir.find(wk.msg()), dir.find("/.well-known/core"));
  test::Parsed partial(Type::kCon, codes::kGet, 1, Token{}, test::path_opts("/.well-known"));
  EXPECT_EQ(dir.find(partial.msg()), nullptr);
}

}  // namespace
}  // namespace coap
