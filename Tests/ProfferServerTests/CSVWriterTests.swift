import Testing

@testable import ProfferServer

/// RFC 4180 output for statements and exports, and the spreadsheet-formula guard.
@Suite("CSV")
struct CSVWriterTests {
    @Test func fieldsAreQuotedAndFormulasDefused() {
        var csv = CSVWriter(header: ["name", "amount"])
        csv.append(["Acme, Inc.", "-0.80"])
        csv.append(["Say \"hi\"", "12"])
        csv.append(["=HYPERLINK(\"http://x\")", "-5"])
        csv.append(["+1 call", "@sum"])
        csv.append(["two\nlines", "-"])
        #expect(csv.text == "name,amount\r\n"
            + "\"Acme, Inc.\",-0.80\r\n"
            + "\"Say \"\"hi\"\"\",12\r\n"
            + "\"'=HYPERLINK(\"\"http://x\"\")\",-5\r\n"
            + "'+1 call,'@sum\r\n"
            + "\"two\nlines\",-\r\n")
    }
}
