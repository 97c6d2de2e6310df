/*
 * An empty ICU common-data package: what ICU's own "stubdata" library is when ICU is built
 * with --with-data-packaging=archive (the data then comes from an icudtNNl.dat file, or not
 * at all).
 *
 * Why: PySide6's Linux wheels link Qt Core against ICU, and libicudata.so.NN is 30 MB of
 * locale data (collation tables, legacy code pages, calendars, ...) that the wizard never
 * reads. build.spec compiles this file into a library of the same name and soname that exports
 * the one symbol libicuuc needs (icudtNN_dat, NN given as -DICU_ENTRY=icudtNN_dat) and puts it
 * in the bundle instead. ICU's case mapping, normalisation and character properties are
 * compiled into libicuuc itself and keep working; what needs the data fails cleanly and Qt
 * falls back (QCollator compares code points; codecs other than UTF-8/16/32 and Latin-1 are
 * unavailable). tests/unit/test_build_spec.py keeps ui/ off those APIs.
 *
 * The layout is ICU's ICU_Data_Header (common/ucmndata.h): a MappedData header, the UDataInfo
 * naming the format "CmnD" version 1, and a table of contents with no entries.
 */
typedef struct {
    unsigned short headerSize;          /* MappedData */
    unsigned char magic1, magic2;
    unsigned short size, reserved;      /* UDataInfo */
    unsigned char isBigEndian, charsetFamily, sizeofUChar, reservedByte;
    unsigned char dataFormat[4], formatVersion[4], dataVersion[4];
    char padding[8];
    unsigned int count, reserved2;      /* the table of contents: empty */
    int fakeNameAndData[4];
} ICU_Data_Header;

#ifndef ICU_ENTRY
#error "compile with -DICU_ENTRY=icudtNN_dat (NN: the ICU major version)"
#endif

__attribute__((visibility("default"), aligned(16)))
const ICU_Data_Header ICU_ENTRY = {
    32, 0xda, 0x27,                     /* header size, magic */
    20, 0,                              /* sizeof(UDataInfo) */
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    1,
#else
    0,
#endif
    0, 2, 0,                            /* ASCII family, sizeof(UChar) */
    {0x43, 0x6d, 0x6e, 0x44},           /* "CmnD" */
    {1, 0, 0, 0}, {0, 0, 0, 0},
    {0},
    0, 0,                               /* no entries */
    {0},
};
