import { HevcPps, HevcSps, parsePps, parseShortTermRps, parseSps, ShortTermRps } from './hevc-parameter-sets';
import { BitstreamError, ceilLog2, RbspReader, SliceHeaderParser } from './rbsp-reader';

/**
 * The size of an H.265 slice segment header (ITU-T H.265 7.3.6.1, up to and including its
 * byte_alignment()), which 'cbcs' leaves in the clear, as for H.264. Single-layer streams of the
 * Main, Main 10 and range-extension profiles; the multilayer, 3D and screen-content extensions are
 * refused by name.
 */

const NAL_SPS = 33;
const NAL_PPS = 34;
const NAL_BLA_W_LP = 16;
const NAL_IDR_W_RADL = 19;
const NAL_IDR_N_LP = 20;
const SLICE_B = 0;
const SLICE_P = 1;

function skipPredWeightTable(reader: RbspReader, chromaArrayType: number, listSizes: readonly number[]): void {
  reader.ue(); // luma_log2_weight_denom
  if (chromaArrayType !== 0) {
    reader.se(); // delta_chroma_log2_weight_denom
  }
  for (const size of listSizes) {
    const lumaFlags: boolean[] = [];
    const chromaFlags: boolean[] = [];
    for (let i = 0; i < size; i++) {
      lumaFlags.push(reader.flag());
    }
    for (let i = 0; i < size; i++) {
      chromaFlags.push(chromaArrayType !== 0 ? reader.flag() : false);
    }
    for (let i = 0; i < size; i++) {
      if (lumaFlags[i]) {
        reader.se();
        reader.se();
      }
      if (chromaFlags[i]) {
        for (let j = 0; j < 4; j++) {
          reader.se();
        }
      }
    }
  }
}

export class HevcSliceHeaderParser implements SliceHeaderParser {
  private readonly spsById = new Map<number, HevcSps>();
  private readonly ppsById = new Map<number, HevcPps>();

  /** `parameterSets`: the NAL units of the hvcC record's arrays. */
  constructor(parameterSets: readonly Buffer[]) {
    for (const nal of parameterSets) {
      this.clearLeaderBytes(nal);
    }
  }

  clearLeaderBytes(nal: Buffer): number | undefined {
    if (nal.length < 2) {
      throw new BitstreamError(`a NAL unit of ${nal.length} byte(s), shorter than its header`);
    }
    const type = (nal[0] >> 1) & 0x3f;
    const layerId = ((nal[0] & 1) << 5) | (nal[1] >> 3);
    const reader = new RbspReader(nal, 2, nal.length);
    if (type === NAL_SPS && layerId === 0) {
      const { id, sps } = parseSps(reader);
      this.spsById.set(id, sps);
      return undefined;
    }
    if (type === NAL_PPS && layerId === 0) {
      const { id, pps } = parsePps(reader);
      this.ppsById.set(id, pps);
      return undefined;
    }
    if (type >= 32) {
      return undefined;
    }
    if ((type >= 10 && type <= 15) || type >= 22) {
      throw new BitstreamError(`reserved VCL NAL unit type ${type}`);
    }
    if (layerId !== 0) {
      throw new BitstreamError(`a slice of layer ${layerId}: multilayer HEVC is not supported`);
    }
    this.skipSliceSegmentHeader(reader, type);
    return 2 + reader.rawBytesConsumed();
  }

  private skipSliceSegmentHeader(reader: RbspReader, nalType: number): void {
    const firstSliceSegmentInPic = reader.flag();
    if (nalType >= NAL_BLA_W_LP && nalType <= 23) {
      reader.bit(); // no_output_of_prior_pics_flag
    }
    const ppsId = reader.ue();
    const pps = this.ppsById.get(ppsId);
    if (!pps) {
      throw new BitstreamError(`a slice refers to picture parameter set ${ppsId}, which neither the hvcC record nor the sample carries`);
    }
    const sps = this.spsById.get(pps.spsId);
    if (!sps) {
      throw new BitstreamError(`picture parameter set ${ppsId} refers to sequence parameter set ${pps.spsId}, which neither the hvcC record nor the sample carries`);
    }
    let dependentSliceSegment = false;
    if (!firstSliceSegmentInPic) {
      if (pps.dependentSliceSegmentsEnabled) {
        dependentSliceSegment = reader.flag();
      }
      reader.skipBits(ceilLog2(sps.picSizeInCtbs)); // slice_segment_address
    }
    if (!dependentSliceSegment) {
      this.skipIndependentSliceFields(reader, nalType, sps, pps);
    }
    if (pps.tilesOrEntropySync) {
      const entryPoints = reader.ue();
      if (entryPoints > 0) {
        const offsetBits = reader.ue() + 1;
        if (offsetBits > 32) {
          throw new BitstreamError(`offset_len_minus1 ${offsetBits - 1} is above 31`);
        }
        reader.skipBits(entryPoints * offsetBits);
      }
    }
    if (pps.sliceSegmentHeaderExtensionPresent) {
      reader.skipBits(8 * reader.ue());
    }
    // byte_alignment(): a one, then zeros to the boundary; anything else means the header was misread.
    const misread = new BitstreamError('the slice segment header does not end with byte_alignment(); it was misread');
    if (reader.bit() !== 1) {
      throw misread;
    }
    while (!reader.isByteAligned()) {
      if (reader.bit() !== 0) {
        throw misread;
      }
    }
  }

  private skipIndependentSliceFields(reader: RbspReader, nalType: number, sps: HevcSps, pps: HevcPps): void {
    reader.skipBits(pps.numExtraSliceHeaderBits);
    const sliceType = reader.ue();
    if (pps.outputFlagPresent) {
      reader.bit();
    }
    if (sps.separateColourPlane) {
      reader.skipBits(2);
    }
    let numPicTotalCurr = 0;
    let temporalMvp = false;
    if (nalType !== NAL_IDR_W_RADL && nalType !== NAL_IDR_N_LP) {
      reader.skipBits(sps.log2MaxPicOrderCntLsb); // slice_pic_order_cnt_lsb
      let rps: ShortTermRps | undefined;
      if (!reader.flag()) {
        rps = parseShortTermRps(reader, sps.shortTermRpsList.length, sps.shortTermRpsList.length, sps.shortTermRpsList);
      } else {
        const index = sps.shortTermRpsList.length > 1 ? reader.bits(ceilLog2(sps.shortTermRpsList.length)) : 0;
        rps = sps.shortTermRpsList[index];
        if (!rps) {
          throw new BitstreamError(`short_term_ref_pic_set_idx ${index} names no set of the SPS`);
        }
      }
      numPicTotalCurr = [...rps.negative, ...rps.positive].filter((picture) => picture.used).length;
      if (sps.longTermRefPicsPresent) {
        const fromSps = sps.longTermUsedByCurrPic.length > 0 ? reader.ue() : 0;
        const inSlice = reader.ue();
        for (let i = 0; i < fromSps + inSlice; i++) {
          if (i < fromSps) {
            const index = sps.longTermUsedByCurrPic.length > 1 ? reader.bits(ceilLog2(sps.longTermUsedByCurrPic.length)) : 0;
            numPicTotalCurr += sps.longTermUsedByCurrPic[index] ? 1 : 0;
          } else {
            reader.skipBits(sps.log2MaxPicOrderCntLsb);
            numPicTotalCurr += reader.flag() ? 1 : 0;
          }
          if (reader.flag()) {
            reader.ue(); // delta_poc_msb_cycle_lt
          }
        }
      }
      if (sps.temporalMvp) {
        temporalMvp = reader.flag();
      }
    }
    let saoLuma = false;
    let saoChroma = false;
    if (sps.sampleAdaptiveOffset) {
      saoLuma = reader.flag();
      if (sps.chromaArrayType !== 0) {
        saoChroma = reader.flag();
      }
    }
    if (sliceType === SLICE_P || sliceType === SLICE_B) {
      let numRefIdxL0 = pps.numRefIdxL0Default;
      let numRefIdxL1 = pps.numRefIdxL1Default;
      if (reader.flag()) {
        numRefIdxL0 = reader.ue() + 1;
        if (sliceType === SLICE_B) {
          numRefIdxL1 = reader.ue() + 1;
        }
      }
      if (pps.listsModificationPresent && numPicTotalCurr > 1) {
        const entryBits = ceilLog2(numPicTotalCurr);
        if (reader.flag()) {
          reader.skipBits(numRefIdxL0 * entryBits);
        }
        if (sliceType === SLICE_B && reader.flag()) {
          reader.skipBits(numRefIdxL1 * entryBits);
        }
      }
      if (sliceType === SLICE_B) {
        reader.bit(); // mvd_l1_zero_flag
      }
      if (pps.cabacInitPresent) {
        reader.bit();
      }
      if (temporalMvp) {
        const collocatedFromL0 = sliceType === SLICE_B ? reader.flag() : true;
        if ((collocatedFromL0 && numRefIdxL0 > 1) || (!collocatedFromL0 && numRefIdxL1 > 1)) {
          reader.ue(); // collocated_ref_idx
        }
      }
      if ((pps.weightedPred && sliceType === SLICE_P) || (pps.weightedBipred && sliceType === SLICE_B)) {
        skipPredWeightTable(reader, sps.chromaArrayType, sliceType === SLICE_B ? [numRefIdxL0, numRefIdxL1] : [numRefIdxL0]);
      }
      reader.ue(); // five_minus_max_num_merge_cand
    }
    reader.se(); // slice_qp_delta
    if (pps.sliceChromaQpOffsetsPresent) {
      reader.se();
      reader.se();
    }
    if (pps.chromaQpOffsetListEnabled) {
      reader.bit(); // cu_chroma_qp_offset_enabled_flag
    }
    let deblockingDisabled = pps.deblockingFilterDisabled;
    if (pps.deblockingFilterOverrideEnabled && reader.flag()) {
      deblockingDisabled = reader.flag();
      if (!deblockingDisabled) {
        reader.se();
        reader.se();
      }
    }
    if (pps.loopFilterAcrossSlicesEnabled && (saoLuma || saoChroma || !deblockingDisabled)) {
      reader.bit();
    }
  }
}
