// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";

/// @title Registry
/// @notice Datasets and trained models as ERC-721 tokens. A dataset token is
/// minted by whoever registers the dataset's CID and is owned by them; its
/// owner receives the royalty share of every job that trains on it. A model
/// token is minted, through the escrow, to the submitter of the job that
/// produced it. Every token carries its content CID and a provenance CID (for
/// a model: the record of every round's weights, receipts roots and chain
/// transactions).
contract Registry is ERC721 {
    enum Kind {
        None,
        Dataset,
        Model
    }

    struct Item {
        Kind kind;
        uint256 jobId; // the escrow job that produced a model; 0 for a dataset
        string cid;
        string provenanceCid;
    }

    /// @notice The only address allowed to mint model tokens (the JobEscrow).
    address public immutable minter;

    uint256 public lastTokenId;
    mapping(uint256 tokenId => Item) private _items;
    /// @notice Token of a dataset by keccak256 of its CID text; 0 if none.
    mapping(bytes32 cidHash => uint256 tokenId) public datasetByCid;
    /// @notice Model token of an escrow job; 0 if none.
    mapping(uint256 jobId => uint256 tokenId) public modelOfJob;

    event DatasetRegistered(uint256 indexed tokenId, address indexed owner, string cid, string provenanceCid);
    event ModelMinted(
        uint256 indexed tokenId, uint256 indexed jobId, address indexed owner, string cid, string provenanceCid
    );

    error EmptyCid();
    error CidTooLong(uint256 length, uint256 max);
    error DatasetAlreadyRegistered(uint256 tokenId);
    error ModelAlreadyMinted(uint256 tokenId);
    error NotMinter(address caller);

    /// @dev CIDs in text form are under 100 characters; the bound keeps a
    /// token's storage cost predictable.
    uint256 public constant MAX_CID_LENGTH = 128;

    constructor(address minter_) ERC721("Gridswarm Registry", "GRIDREG") {
        minter = minter_;
    }

    /// @notice Register the dataset `cid` and mint its token to the caller.
    function registerDataset(string calldata cid, string calldata provenanceCid) external returns (uint256 tokenId) {
        _checkCid(cid);
        _checkLength(provenanceCid);
        bytes32 h = keccak256(bytes(cid));
        uint256 existing = datasetByCid[h];
        if (existing != 0) revert DatasetAlreadyRegistered(existing);
        tokenId = ++lastTokenId;
        datasetByCid[h] = tokenId;
        _items[tokenId] = Item(Kind.Dataset, 0, cid, provenanceCid);
        _mint(msg.sender, tokenId);
        emit DatasetRegistered(tokenId, msg.sender, cid, provenanceCid);
    }

    /// @notice Mint the model of escrow job `jobId` to `owner`. Only the
    /// escrow calls this, once per job.
    function mintModel(address owner, uint256 jobId, string calldata cid, string calldata provenanceCid)
        external
        returns (uint256 tokenId)
    {
        if (msg.sender != minter) revert NotMinter(msg.sender);
        _checkCid(cid);
        _checkLength(provenanceCid);
        uint256 existing = modelOfJob[jobId];
        if (existing != 0) revert ModelAlreadyMinted(existing);
        tokenId = ++lastTokenId;
        modelOfJob[jobId] = tokenId;
        _items[tokenId] = Item(Kind.Model, jobId, cid, provenanceCid);
        _mint(owner, tokenId);
        emit ModelMinted(tokenId, jobId, owner, cid, provenanceCid);
    }

    /// @notice What token `tokenId` is: its kind, job, CID and provenance CID.
    function item(uint256 tokenId) external view returns (Item memory) {
        _requireOwned(tokenId);
        return _items[tokenId];
    }

    /// @notice ipfs://<cid> of the token's content.
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _requireOwned(tokenId);
        return string.concat("ipfs://", _items[tokenId].cid);
    }

    function _checkCid(string calldata cid) private pure {
        if (bytes(cid).length == 0) revert EmptyCid();
        _checkLength(cid);
    }

    function _checkLength(string calldata s) private pure {
        if (bytes(s).length > MAX_CID_LENGTH) revert CidTooLong(bytes(s).length, MAX_CID_LENGTH);
    }
}
